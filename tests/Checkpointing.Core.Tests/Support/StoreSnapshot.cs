using System.Text.Json;

namespace Checkpointing.Tests.Support;

/// <summary>Everything the store holds about a run, as one JSON string, to prove an operation changed nothing.</summary>
public static class StoreSnapshot
{
    public static async Task<string> CaptureAsync(ICheckpointStore store, Guid runId, IBlobStore? blobs = null)
    {
        var run = await store.GetRunAsync(runId);
        var checkpoints = await store.ListCheckpointsAsync(runId);
        var branches = await store.ListBranchesAsync(runId);
        var details = new List<object>();
        foreach (var checkpoint in checkpoints)
        {
            var artifacts = await store.GetArtifactsAsync(checkpoint.Id);
            var histories = new List<object>();
            foreach (var artifact in artifacts)
            {
                histories.Add(new { artifact, history = await store.GetArtifactHistoryAsync(artifact.Id) });
            }

            details.Add(new { checkpoint, histories });
        }

        var blobList = new List<StoredBlob>();
        if (blobs is not null)
        {
            await foreach (var blob in blobs.ListAsync())
            {
                blobList.Add(blob);
            }
        }

        return JsonSerializer.Serialize(new { run, branches, details, blobs = blobList.OrderBy(b => b.Hash).Select(b => b.Hash) });
    }
}
