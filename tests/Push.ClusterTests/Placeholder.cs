namespace Push.ClusterTests;

// Tests of this project are added by their feature work; see docs/testing.md.
internal static class ProjectInfo
{
    public const string Name = "Push.ClusterTests";
}
