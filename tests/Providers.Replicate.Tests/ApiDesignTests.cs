namespace Checkpointing.Providers.Replicate.Tests;

public sealed class ApiDesignTests
{
    [Fact]
    public void Public_classes_are_sealed_or_static_except_the_exception_base()
    {
        var open = typeof(ReplicateBackend).Assembly.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsSealed && !t.IsAbstract && t != typeof(ReplicateException))
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(open);
    }
}
