namespace Checkpointing.Tests;

public sealed class ApiDesignTests
{
    [Fact]
    public void Public_classes_are_sealed_static_or_abstract_except_exception_bases()
    {
        var open = typeof(CheckpointRunner).Assembly.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsSealed && !t.IsAbstract && !typeof(Exception).IsAssignableFrom(t) && t != typeof(PhaseContext))
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(open);
    }
}
