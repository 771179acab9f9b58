namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>SaveJob records the external job per slot and replaces it.</summary>
    [Fact]
    public async Task SaveJob_records_the_external_job_per_slot_and_replaces_it()
    {
        var run = await CreateRunAsync();

        await Store.SaveJobAsync(run.Id, "exec", "unit-1/0", "job-1", null, Ct);
        await Store.SaveJobAsync(run.Id, "exec", "unit-2/0", "job-2", null, Ct);
        await Store.SaveJobAsync(run.Id, "other", "unit-1/0", "job-x", null, Ct);
        await Store.SaveJobAsync(run.Id, "exec", "unit-1/0", "job-1b", null, Ct);

        Assert.Equal("job-1b", await Store.GetJobAsync(run.Id, "exec", "unit-1/0", Ct));
        Assert.Equal("job-2", await Store.GetJobAsync(run.Id, "exec", "unit-2/0", Ct));
        Assert.Equal("job-x", await Store.GetJobAsync(run.Id, "other", "unit-1/0", Ct));
        Assert.Null(await Store.GetJobAsync(run.Id, "exec", "unit-3/0", Ct));
        Assert.Null(await Store.GetJobAsync(Guid.NewGuid(), "exec", "unit-1/0", Ct));
    }

    /// <summary>SaveUnit upserts by index lists in index order and adjusts the run cost by the difference.</summary>
    [Fact]
    public async Task SaveUnit_upserts_by_index_lists_in_index_order_and_adjusts_the_run_cost_by_the_difference()
    {
        var run = await CreateRunAsync();
        var unit3 = BlobArtifact("chunk", "chunk_3", "c3", 3, cost: 0.3m);
        var unit1 = BlobArtifact("chunk", "chunk_1", "c1", 1, cost: 0.1m);
        var unit1Again = BlobArtifact("chunk", "chunk_1", "c1-again", 1, cost: 0.25m);

        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(3, unit3, 0.3m), null, Ct);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, unit1, 0.1m), null, Ct);
        Assert.Equal(0.4m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, unit1Again, 0.25m), null, Ct);
        await Store.SaveUnitAsync(run.Id, "other", new CompletedUnit(1, unit1, 0.1m), null, Ct);

        var units = await Store.GetUnitsAsync(run.Id, "exec", Ct);
        Assert.Equal([1, 3], units.Select(u => u.UnitIndex));
        Assert.Equal(0.25m, units[0].Cost);
        Assert.Equal(unit1Again.Id, units[0].Artifact.Id);
        Assert.Equal("chunk", units[0].Artifact.Type);
        Assert.Equal("chunk_1", units[0].Artifact.Key);
        Assert.Equal(1, units[0].Artifact.UnitIndex);
        Assert.Equal(unit1Again.Content, units[0].Artifact.Content);
        Assert.Equal("flux-schnell", units[0].Artifact.Metadata.Model);
        Assert.Equal(0.25m, units[0].Artifact.Metadata.Cost);
        AssertJson("""{"steps":4}""", units[0].Artifact.Metadata.Extra);
        Assert.Equal(unit3.Content, units[1].Artifact.Content);
        Assert.Equal(0.3m + 0.25m + 0.1m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Single(await Store.GetUnitsAsync(run.Id, "other", Ct));
        Assert.Empty(await Store.GetUnitsAsync(run.Id, "missing", Ct));
    }

    /// <summary>SaveUnit keeps inline json artifacts.</summary>
    [Fact]
    public async Task SaveUnit_keeps_inline_json_artifacts()
    {
        var run = await CreateRunAsync();
        var spec = JsonArtifact("spec", "spec", """{"beats":[{"id":"b1","prompt":"sunrise"}]}""", 1);

        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, spec, 0m), null, Ct);

        var unit = Assert.Single(await Store.GetUnitsAsync(run.Id, "exec", Ct));
        AssertJson("""{"beats":[{"id":"b1","prompt":"sunrise"}]}""", unit.Artifact.Content.Json);
        Assert.Null(unit.Artifact.Content.Blob);
    }

    /// <summary>SaveUnit of an unknown run throws RunNotFound and records nothing.</summary>
    [Fact]
    public async Task SaveUnit_of_an_unknown_run_throws_RunNotFound_and_records_nothing()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<RunNotFoundException>(() => Store.SaveUnitAsync(id, "exec", new CompletedUnit(1, BlobArtifact("chunk", "chunk_1", "c", 1), 1m), null, Ct));

        Assert.Equal(id, e.RunId);
        Assert.Empty(await Store.GetUnitsAsync(id, "exec", Ct));
        Assert.DoesNotContain(Blob("c").Hash, await ToListAsync(Store.ListReferencedBlobsAsync(Ct)));
    }

    /// <summary>ClearJournal removes the jobs and units of one execution only.</summary>
    [Fact]
    public async Task ClearJournal_removes_the_jobs_and_units_of_one_execution_only()
    {
        var run = await CreateRunAsync();
        var otherRun = await CreateRunAsync();
        await Store.SaveJobAsync(run.Id, "exec", "unit-1/0", "job-1", null, Ct);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, BlobArtifact("chunk", "chunk_1", "c1", 1), 0.5m), null, Ct);
        await Store.SaveJobAsync(run.Id, "keep", "unit-1/0", "job-k", null, Ct);
        await Store.SaveUnitAsync(run.Id, "keep", new CompletedUnit(1, BlobArtifact("chunk", "chunk_1", "k1", 1), 0.5m), null, Ct);
        await Store.SaveJobAsync(otherRun.Id, "exec", "unit-1/0", "job-o", null, Ct);
        await Store.SaveUnitAsync(otherRun.Id, "exec", new CompletedUnit(1, BlobArtifact("chunk", "chunk_1", "o1", 1), 0.5m), null, Ct);

        await Store.ClearJournalAsync(run.Id, "exec", Ct);

        Assert.Empty(await Store.GetUnitsAsync(run.Id, "exec", Ct));
        Assert.Null(await Store.GetJobAsync(run.Id, "exec", "unit-1/0", Ct));
        Assert.Single(await Store.GetUnitsAsync(run.Id, "keep", Ct));
        Assert.Equal("job-k", await Store.GetJobAsync(run.Id, "keep", "unit-1/0", Ct));
        Assert.Single(await Store.GetUnitsAsync(otherRun.Id, "exec", Ct));
        Assert.Equal("job-o", await Store.GetJobAsync(otherRun.Id, "exec", "unit-1/0", Ct));
        Assert.Equal(1m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);

        // Clearing again, or an execution never recorded, is harmless.
        await Store.ClearJournalAsync(run.Id, "exec", Ct);
        await Store.ClearJournalAsync(run.Id, "never", Ct);
        Assert.Single(await Store.GetUnitsAsync(run.Id, "keep", Ct));
    }

    /// <summary>ListReferencedBlobs covers every version and the journal once each.</summary>
    [Fact]
    public async Task ListReferencedBlobs_covers_every_version_and_the_journal_once_each()
    {
        var run = await CreateRunAsync();
        var image = BlobArtifact("beat_image", "beat_1", "v1", 1);
        var shared = BlobArtifact("beat_image", "beat_2", "shared", 2);
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [JsonArtifact("spec", "spec", "{}"), image, shared]), Ct);
        await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [BlobArtifact("beat_image", "beat_2", "shared", 2)]), Ct);
        await Store.UpdateArtifactAsync(new ArtifactUpdate
        {
            CheckpointId = checkpoint.Id,
            Type = "beat_image",
            Key = "beat_1",
            ExpectedVersion = 1,
            Content = ArtifactContent.FromBlob(Blob("v2")),
            Metadata = ArtifactMetadata.Empty,
            At = T0,
        }, Ct);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, BlobArtifact("chunk", "chunk_1", "pending unit", 1), 0m), null, Ct);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(2, JsonArtifact("chunk", "chunk_2", "{}", 2), 0m), null, Ct);

        var hashes = await ToListAsync(Store.ListReferencedBlobsAsync(Ct));

        Assert.Equal(
            new[] { Blob("v1").Hash, Blob("v2").Hash, Blob("shared").Hash, Blob("pending unit").Hash }.Order(StringComparer.Ordinal),
            hashes.Order(StringComparer.Ordinal));

        await Store.ClearJournalAsync(run.Id, "exec", Ct);
        Assert.DoesNotContain(Blob("pending unit").Hash, await ToListAsync(Store.ListReferencedBlobsAsync(Ct)));
        Assert.Contains(Blob("v1").Hash, await ToListAsync(Store.ListReferencedBlobsAsync(Ct)));
    }

    /// <summary>ListReferencedBlobs of an empty store is empty.</summary>
    [Fact]
    public async Task ListReferencedBlobs_of_an_empty_store_is_empty()
    {
        await CreateRunWithCheckpointAsync();

        Assert.Empty(await ToListAsync(Store.ListReferencedBlobsAsync(Ct)));
    }
}
