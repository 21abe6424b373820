using System.Text.Json;
using System.Text.RegularExpressions;
using static Portico.Deploy.Tests.DeployFiles;

namespace Portico.Deploy.Tests;

/// <summary>
/// The image build (<c>deploy/docker</c>): one bake target per deployable process, built by multi-stage Dockerfiles
/// that run as a non-root user with a health check. No Docker engine runs here, so the images are not built in CI:
/// these tests check the files against the repository they build from.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly JsonElement Bake = JsonDocument.Parse(File.ReadAllText(PathOf("deploy/docker/docker-bake.json"))).RootElement;

    public static TheoryData<string> Dockerfiles => new(Directory.GetFiles(PathOf("deploy/docker"), "*.Dockerfile"));

    [Fact]
    public void Every_deployable_process_has_a_bake_target_that_builds_its_project()
    {
        var targets = Bake.GetProperty("target");
        var defaultGroup = Bake.GetProperty("group").GetProperty("default").GetProperty("targets").EnumerateArray().Select(t => t.GetString()).ToList();
        foreach (var deployable in Deployables())
        {
            Assert.True(targets.TryGetProperty(deployable.Name, out var target), $"no bake target for {deployable.Name}");
            Assert.Contains(deployable.Name, defaultGroup);
            Assert.True(File.Exists(PathOf(target.GetProperty("dockerfile").GetString()!)));
            Assert.Contains(target.GetProperty("tags").EnumerateArray(), t => t.GetString()!.EndsWith($"/portico-{deployable.Name}:${{TAG}}", StringComparison.Ordinal));
            if (deployable.AssemblyName is { } assembly)
            {
                var args = target.GetProperty("args");
                Assert.Equal(deployable.ProjectFile, args.GetProperty("PROJECT").GetString());
                Assert.Equal(assembly, args.GetProperty("ASSEMBLY").GetString());
            }
        }
    }

    [Fact]
    public void The_manifests_run_the_images_the_bake_file_builds()
    {
        var registry = Bake.GetProperty("variable").GetProperty("REGISTRY").GetProperty("default").GetString();
        var tag = Bake.GetProperty("variable").GetProperty("TAG").GetProperty("default").GetString();
        var images = Kustomize(PathOf("deploy/k8s/base")).Where(m => m.Kind == "Deployment")
            .ToDictionary(m => m.Name, m => ScalarAt(Items(m.Document, "spec", "template", "spec", "containers").Single(), "image"));
        foreach (var deployable in Deployables())
        {
            Assert.Equal($"{registry}/portico-{deployable.Name}:{tag}", images[deployable.Name]);
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Images_are_multi_stage_pinned_non_root_and_health_checked(string dockerfile)
    {
        var stages = Stages(dockerfile);
        Assert.True(stages.Count >= 2, $"{dockerfile} is not multi-stage");
        foreach (var (image, _) in stages)
        {
            Assert.False(ImageTag(image) is null or "latest", $"{image} is not pinned by a tag");
        }
        var lines = File.ReadAllLines(dockerfile);
        var finalStage = lines.SkipWhile(l => !l.StartsWith($"FROM {stages[^1].Image}", StringComparison.Ordinal)).ToList();
        var user = finalStage.LastOrDefault(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.NotNull(user);
        Assert.DoesNotMatch(@"^USER\s+(root|0)(:|\s|$)", user);
        Assert.Contains(finalStage, l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal));
        Assert.Contains(finalStage, l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Every_file_a_dockerfile_copies_from_the_repository_exists(string dockerfile)
    {
        foreach (var match in File.ReadLines(dockerfile).Select(l => CopyLine().Match(l)).Where(m => m.Success))
        {
            var sources = match.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1];
            foreach (var source in sources)
            {
                Assert.True(File.Exists(PathOf(source)) || Directory.Exists(PathOf(source)), $"{dockerfile}: COPY {source} names nothing in the repository");
            }
        }
    }

    [Fact]
    public void The_build_context_leaves_out_build_output_and_local_data()
    {
        var ignored = File.ReadAllLines(PathOf(".dockerignore"));
        foreach (var entry in new[] { "**/bin/", "**/obj/", "**/node_modules/", ".git/", "**/*.db" })
        {
            Assert.Contains(entry, ignored);
        }
    }

    // COPY without --from: its sources are paths in the build context (the repository root).
    [GeneratedRegex(@"^COPY\s+(?!--from)(?<args>.+)$")]
    private static partial Regex CopyLine();
}
