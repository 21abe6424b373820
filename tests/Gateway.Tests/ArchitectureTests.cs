using ArchUnitNET.Domain;
using ArchUnitNET.Fluent.Slices;
using ArchUnitNET.Loader;

namespace Portico.Gateway.Tests;

/// <summary>
/// The gateway's feature folders (one namespace each) depend on each other in one direction only, so each can be
/// read, changed and tested without the ones that use it. Checked on the compiled assembly, method bodies included.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly Architecture Gateway = new ArchLoader().LoadAssemblies(typeof(Configuration.GatewayOptions).Assembly).Build();

    [Fact]
    public void FeatureFolders_HaveNoCyclicDependencies()
    {
        var rule = SliceRuleDefinition.Slices().Matching("Portico.Gateway.(*)").Should().BeFreeOfCycles();

        var violations = rule.Evaluate(Gateway).Where(result => !result.Passed).Select(result => result.Description).ToList();

        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
