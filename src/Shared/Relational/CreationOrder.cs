namespace Checkpointing.Relational;

/// <summary>
/// A run's checkpoints as a store reads them in whatever order its index gives, put in creation order (by their
/// <c>seq</c>) at the end: one pass when they came in that order, one sort otherwise.
/// </summary>
internal sealed class CreationOrder
{
    private readonly List<Checkpoint> _checkpoints = [];
    private readonly List<long> _seqs = [];
    private bool _sorted = true;

    /// <summary>Adds a checkpoint read with its creation sequence number.</summary>
    /// <param name="seq">The row's <c>seq</c>.</param>
    /// <param name="checkpoint">The checkpoint.</param>
    public void Add(long seq, Checkpoint checkpoint)
    {
        _sorted &= _seqs.Count == 0 || seq > _seqs[^1];
        _seqs.Add(seq);
        _checkpoints.Add(checkpoint);
    }

    /// <summary>The checkpoints added, in creation order.</summary>
    /// <returns>The list (the same one when they were added in order).</returns>
    public List<Checkpoint> ToList()
    {
        if (_sorted)
        {
            return _checkpoints;
        }

        var items = _checkpoints.ToArray();
        Array.Sort(_seqs.ToArray(), items);
        return [.. items];
    }
}
