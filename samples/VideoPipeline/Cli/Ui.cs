using System.Globalization;
using Spectre.Console;
using VideoPipeline.Hosting;

namespace VideoPipeline.Cli;

/// <summary>
/// Where commands write: stdout through Spectre.Console (plain text without ANSI escapes when stdout is redirected
/// or NO_COLOR is set), and one-line errors on stderr.
/// </summary>
public sealed class Ui
{
    private Ui(IAnsiConsole console, bool plain)
    {
        Out = console;
        Plain = plain;
    }

    public IAnsiConsole Out { get; }

    /// <summary>True when output is plain text: no colours, no live progress, ASCII borders.</summary>
    public bool Plain { get; }

    public TableBorder Border => Plain ? TableBorder.Ascii : TableBorder.Rounded;

    public TreeGuide Guide => Plain ? TreeGuide.Ascii : TreeGuide.Line;

    public static Ui Create()
    {
        var plain = Terminal.IsPlain(Console.IsOutputRedirected);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        if (plain)
        {
            // Wide enough that ids and prompts are not wrapped in captured output.
            console.Profile.Width = 200;
            console.Profile.Capabilities.Unicode = false;
        }

        return new Ui(console, plain);
    }

    /// <summary>Writes text as is: no markup, no wrapping.</summary>
    public void Line(string text = "") => Console.Out.WriteLine(text);

    /// <summary>Writes Spectre markup; dynamic parts must be escaped with <see cref="Esc"/>.</summary>
    public void Markup(string markup) => Out.MarkupLine(markup);

    public static string Esc(string? text) => Spectre.Console.Markup.Escape(text ?? "");

    /// <summary>Writes <c>error: message</c> on one line to stderr.</summary>
    public static void Error(string message) =>
        Console.Error.WriteLine("error: " + message.ReplaceLineEndings(" ").Trim());

    public static string Money(decimal value) => "$" + value.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string Short(Guid id) => id.ToString()[..8];

    public static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>A command was used wrongly (a missing or conflicting argument, an id that matches nothing).</summary>
public sealed class UsageException(string message) : Exception(message);
