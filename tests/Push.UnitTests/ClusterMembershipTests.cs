using Push.Hosting.Cluster;
using Push.V1;

namespace Push.UnitTests;

public sealed class ClusterMembershipTests
{
    private static Member M(string id, MemberRole role = MemberRole.Gateway) => new() { Id = id, Role = role, Address = "http://" + id };

    [Fact]
    public void Update_UnionOfRegistries_SplitByRole()
    {
        var view = new ClusterMembership();

        view.Update("r1", [M("g1"), M("w1", MemberRole.Worker)]);
        view.Update("r2", [M("g2"), M("g1")]);

        Assert.Equal(["g1", "g2", "w1"], view.Members.Select(m => m.Id));
        Assert.Equal(["g1", "g2"], view.Gateways.Select(m => m.Id));
        Assert.Equal("w1", Assert.Single(view.Workers).Id);
    }

    [Fact]
    public void AllRegistriesDown_KeepsTheLastView()
    {
        var view = new ClusterMembership();
        view.Update("r1", [M("g1"), M("g2")]);

        view.MarkDown("r1");

        Assert.Equal(2, view.Members.Count);
        Assert.False(view.AnyRegistryUp);
    }

    [Fact]
    public void RestartedRegistry_OnlyGrowsTheViewUntilItSettles_ThenDropsWhoDidNotComeBack()
    {
        var view = new ClusterMembership();
        var changes = 0;
        view.Changed += () => changes++;
        view.Update("r1", [M("g1"), M("g2"), M("w1", MemberRole.Worker)]);
        view.MarkDown("r1");

        view.Update("r1", [M("g1")]); // restarted, empty at first, g1 re-registered
        Assert.Equal(["g1", "g2", "w1"], view.Members.Select(m => m.Id));

        view.Update("r1", [M("g1"), M("w1", MemberRole.Worker)]);
        view.Settle("r1");

        Assert.Equal(["g1", "w1"], view.Members.Select(m => m.Id));
        Assert.True(changes >= 3);
    }

    [Fact]
    public void SettledRegistryUp_DownRegistryNoLongerContributes()
    {
        var view = new ClusterMembership();
        view.Update("r1", [M("g1")]);
        view.Update("r2", [M("g2")]);

        view.MarkDown("r2");

        Assert.Equal("g1", Assert.Single(view.Members).Id);
        Assert.Equal(1, view.RegistriesUp);
    }
}
