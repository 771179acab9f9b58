namespace VideoPipeline.Cli;

/// <summary>
/// Serialises the commands that execute phases of one run across processes (an exclusive lock file under
/// <c>{data}/locks</c>). The SDK keeps a phase from running twice within one process; this keeps two processes from
/// continuing the same checkpoint at once, so the second one finds the first one's result instead of running the
/// phase again.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _file;

    private RunLock(FileStream file) => _file = file;

    public static async Task<RunLock> AcquireAsync(Session session, Guid runId, CancellationToken ct)
    {
        var folder = Directory.CreateDirectory(Path.Combine(session.Data.Path, "locks")).FullName;
        var path = Path.Combine(folder, $"{runId:N}.lock");
        var told = false;
        while (true)
        {
            try
            {
                return new RunLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (!ct.IsCancellationRequested)
            {
                if (!told)
                {
                    session.Ui.Line($"run {runId} is busy in another process; waiting for it...");
                    told = true;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
