namespace Checkpointing.Tests;

public class BranchNamesTests
{
    [Theory]
    [InlineData("main", "main-1", 1)]
    [InlineData("main", "main-12", 12)]
    [InlineData("main", "main-1-1", 0)]
    [InlineData("main-1", "main-1-3", 3)]
    [InlineData("main", "main", 0)]
    [InlineData("main", "mainx-1", 0)]
    [InlineData("main", "main-", 0)]
    public void ChildCounter_recognises_immediate_children_only(string parent, string candidate, int expected) =>
        Assert.Equal(expected, BranchNames.ChildCounter(parent, candidate));

    [Fact]
    public void Child_appends_the_counter() => Assert.Equal("main-1-2", BranchNames.Child("main-1", 2));
}
