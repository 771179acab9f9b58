namespace VideoPipeline.Hosting;

/// <summary>Decides whether output may use colours and live widgets.</summary>
public static class Terminal
{
    /// <summary>True when output should be plain text: redirected, or NO_COLOR set (https://no-color.org).</summary>
    public static bool IsPlain(bool redirected) =>
        redirected || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
}
