using System.Globalization;

namespace Checkpointing;

/// <summary>Branch naming: the first branch is <c>main</c>; the n-th fork of branch <c>B</c> is <c>B-n</c>.</summary>
public static class BranchNames
{
    /// <summary>The name of a run's first branch.</summary>
    public const string Main = "main";

    /// <summary>The name of child <paramref name="counter"/> of <paramref name="parent"/>.</summary>
    /// <param name="parent">The parent branch.</param>
    /// <param name="counter">The child counter, from 1.</param>
    public static string Child(string parent, int counter) => string.Create(CultureInfo.InvariantCulture, $"{parent}-{counter}");

    /// <summary>
    /// The counter of <paramref name="candidate"/> when it is an immediate child of <paramref name="parent"/>
    /// (<c>main-3</c> of <c>main</c> is 3; <c>main-3-1</c> is not an immediate child), else 0.
    /// </summary>
    /// <param name="parent">The parent branch.</param>
    /// <param name="candidate">Any branch name.</param>
    public static int ChildCounter(string parent, string candidate)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.Length <= parent.Length + 1 || !candidate.StartsWith(parent, StringComparison.Ordinal) || candidate[parent.Length] != '-')
        {
            return 0;
        }

        var rest = candidate.AsSpan(parent.Length + 1);
        foreach (var c in rest)
        {
            if (!char.IsAsciiDigit(c))
            {
                return 0;
            }
        }

        return int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>
    /// The name of the next child of <paramref name="parent"/>: its counter is one more than the highest counter among
    /// the immediate children in <paramref name="existing"/> (any other names are ignored). Stores call it inside the
    /// transaction that inserts the branch, so that concurrent forks never share a name.
    /// </summary>
    /// <param name="parent">The parent branch.</param>
    /// <param name="existing">The run's branch names (or any superset of the parent's children).</param>
    public static string NextChild(string parent, IEnumerable<string> existing)
    {
        ArgumentNullException.ThrowIfNull(existing);
        var max = 0;
        foreach (var name in existing)
        {
            max = Math.Max(max, ChildCounter(parent, name));
        }

        return Child(parent, max + 1);
    }
}
