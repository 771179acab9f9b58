namespace Checkpointing.AspNetCore.Tests;

public sealed class PublicApiTests
{
    [Fact]
    public void The_public_api_matches_the_approved_listing() => Checkpointing.Testing.PublicApi.AssertApproved(typeof(CheckpointingEndpointOptions).Assembly);
}
