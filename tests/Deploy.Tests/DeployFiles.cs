using System.Text.RegularExpressions;
using System.Xml.Linq;
using YamlDotNet.RepresentationModel;

namespace Portico.Deploy.Tests;

/// <summary>The repository's deployable processes and the files under <c>deploy/</c> that ship them.</summary>
internal static partial class DeployFiles
{
    public static readonly string Root = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>
    /// Every process a cluster runs, by its image name: each ASP.NET Core project under <c>services/</c> plus the
    /// gateway host, and each Node.js service. The embedded Garnet store (<c>src/Store</c>) is the one-command
    /// run's stand-in for Redis and is not deployed.
    /// </summary>
    public static IReadOnlyList<Deployable> Deployables()
    {
        var solution = XDocument.Load(PathOf("Portico.slnx"));
        var projects = solution.Descendants("Project").Select(p => (string)p.Attribute("Path")!)
            .Where(p => p.StartsWith("services/", StringComparison.Ordinal) || p == "src/Gateway.Host/Gateway.Host.csproj")
            .Where(p => File.ReadLines(PathOf(p)).First().Contains("Microsoft.NET.Sdk.Web", StringComparison.Ordinal))
            .Select(p => new Deployable(
                p == "src/Gateway.Host/Gateway.Host.csproj" ? "gateway" : Path.GetFileNameWithoutExtension(p).ToLowerInvariant(),
                p,
                XDocument.Load(PathOf(p)).Descendants("AssemblyName").Single().Value));
        var node = Directory.GetFiles(PathOf("services"), "package.json", SearchOption.AllDirectories)
            .Where(f => !f.Contains("node_modules", StringComparison.Ordinal))
            .Select(f => new Deployable(Path.GetFileName(Path.GetDirectoryName(f)!).ToLowerInvariant(), Path.GetRelativePath(Root, f), null));
        return [.. projects.Concat(node).OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <summary>Every document a kustomization builds, following <c>resources</c> into bases, with the file it came from.</summary>
    public static IReadOnlyList<Manifest> Kustomize(string directory)
    {
        var kustomization = Load(Path.Combine(directory, "kustomization.yaml")).Single().Document;
        var manifests = new List<Manifest>();
        foreach (var resource in Strings(kustomization, "resources"))
        {
            var path = Path.GetFullPath(Path.Combine(directory, resource));
            manifests.AddRange(Directory.Exists(path) ? Kustomize(path) : Load(path));
        }
        return manifests;
    }

    public static IReadOnlyList<Manifest> Load(string file)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(file))
        {
            stream.Load(reader);
        }
        return [.. stream.Documents.Where(d => d.RootNode is YamlMappingNode).Select(d => new Manifest(file, (YamlMappingNode)d.RootNode))];
    }

    public static YamlNode? Get(YamlNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node))
            {
                return null;
            }
        }
        return node;
    }

    public static string? ScalarAt(YamlNode? node, params string[] path) => (Get(node, path) as YamlScalarNode)?.Value;

    public static IEnumerable<YamlNode> Items(YamlNode? node, params string[] path) =>
        Get(node, path) is YamlSequenceNode sequence ? sequence.Children : [];

    public static IEnumerable<string> Strings(YamlNode? node, params string[] path) =>
        Items(node, path).OfType<YamlScalarNode>().Select(s => s.Value!);

    /// <summary>Every mapping anywhere below <paramref name="node"/>, the node itself included.</summary>
    public static IEnumerable<YamlMappingNode> Mappings(YamlNode node)
    {
        if (node is YamlMappingNode map)
        {
            yield return map;
        }
        var children = node switch
        {
            YamlMappingNode m => m.Children.Values,
            YamlSequenceNode s => s.Children,
            _ => [],
        };
        foreach (var child in children.SelectMany(Mappings))
        {
            yield return child;
        }
    }

    /// <summary>The image reference's tag, or null when it has none (a digest counts as a tag).</summary>
    public static string? ImageTag(string image)
    {
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return image[(image.IndexOf('@', StringComparison.Ordinal) + 1)..];
        }
        var lastSegment = image[(image.LastIndexOf('/') + 1)..];
        var colon = lastSegment.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : lastSegment[(colon + 1)..];
    }

    /// <summary>The <c>FROM</c> instructions of a Dockerfile: image and optional stage name.</summary>
    public static IReadOnlyList<(string Image, string? Stage)> Stages(string dockerfile) =>
        [.. File.ReadLines(dockerfile).Select(l => FromLine().Match(l)).Where(m => m.Success)
            .Select(m => (m.Groups["image"].Value, m.Groups["stage"].Success ? m.Groups["stage"].Value : null))];

    [GeneratedRegex(@"^FROM\s+(?:--platform=\S+\s+)?(?<image>\S+)(?:\s+AS\s+(?<stage>\S+))?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex FromLine();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Portico.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Portico.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A process the cluster runs: its image name, the project or package file, and the .NET assembly (null for Node).</summary>
internal sealed record Deployable(string Name, string ProjectFile, string? AssemblyName);

internal sealed record Manifest(string File, YamlMappingNode Document)
{
    public string Kind => DeployFiles.ScalarAt(Document, "kind") ?? "";

    public string Name => DeployFiles.ScalarAt(Document, "metadata", "name") ?? "";

    public override string ToString() => $"{Kind}/{Name} ({Path.GetFileName(File)})";
}
