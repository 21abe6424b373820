using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using static Portico.Deploy.Tests.DeployFiles;

namespace Portico.Deploy.Tests;

/// <summary>
/// The Kustomize base (Portico's processes, engines elsewhere) and the engines overlay, read as YAML and checked
/// for what a platform team requires before a rollout (issue #25): probes, requests and limits, non-root, no inlined
/// secret, pinned images, a disruption budget per service, the gateway autoscaled and the only way in.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly string Base = PathOf("deploy/k8s/base");
    private static readonly string Engines = PathOf("deploy/k8s/overlays/engines");

    public static TheoryData<string> Kustomizations => new(Base, Engines);

    [Fact]
    public void Every_deployable_process_has_a_deployment_a_service_and_a_disruption_budget()
    {
        var manifests = Kustomize(Base);
        foreach (var deployable in Deployables())
        {
            Assert.Contains(manifests, m => m.Kind == "Deployment" && m.Name == deployable.Name);
            Assert.Contains(manifests, m => m.Kind == "Service" && m.Name == deployable.Name);
            var budget = Assert.Single(manifests, m => m.Kind == "PodDisruptionBudget" && m.Name == deployable.Name);
            Assert.Equal(deployable.Name, ScalarAt(budget.Document, "spec", "selector", "matchLabels", "app.kubernetes.io/name"));
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_container_has_probes_requests_limits_and_a_non_root_security_context(string kustomization)
    {
        var workloads = Kustomize(kustomization).Where(m => m.Kind is "Deployment" or "StatefulSet").ToList();
        Assert.NotEmpty(workloads);
        foreach (var workload in workloads)
        {
            var pod = Get(workload.Document, "spec", "template", "spec");
            foreach (var container in Items(pod, "containers"))
            {
                var where = $"{workload} container {ScalarAt(container, "name")}";
                Assert.True(Get(container, "readinessProbe") is not null, $"{where}: no readinessProbe");
                Assert.True(Get(container, "livenessProbe") is not null, $"{where}: no livenessProbe");
                foreach (var kind in new[] { "requests", "limits" })
                {
                    foreach (var resource in new[] { "cpu", "memory" })
                    {
                        Assert.False(string.IsNullOrEmpty(ScalarAt(container, "resources", kind, resource)), $"{where}: no {kind}.{resource}");
                    }
                }
                var nonRoot = ScalarAt(container, "securityContext", "runAsNonRoot") ?? ScalarAt(pod, "securityContext", "runAsNonRoot");
                Assert.True(nonRoot == "true", $"{where}: runAsNonRoot is not true");
                var user = ScalarAt(container, "securityContext", "runAsUser") ?? ScalarAt(pod, "securityContext", "runAsUser");
                Assert.True(user is null || int.Parse(user, System.Globalization.CultureInfo.InvariantCulture) > 0, $"{where}: runs as uid 0");
                Assert.Equal("false", ScalarAt(container, "securityContext", "allowPrivilegeEscalation"));
                Assert.Contains("ALL", Strings(container, "securityContext", "capabilities", "drop"));
            }
        }
    }

    [Fact]
    public void Portico_containers_probe_the_health_endpoints_and_run_on_a_read_only_root()
    {
        foreach (var deployment in Kustomize(Base).Where(m => m.Kind == "Deployment"))
        {
            var container = Assert.Single(Items(deployment.Document, "spec", "template", "spec", "containers"));
            Assert.Equal("/health/ready", ScalarAt(container, "readinessProbe", "httpGet", "path"));
            Assert.Equal("/health/live", ScalarAt(container, "livenessProbe", "httpGet", "path"));
            Assert.Equal("true", ScalarAt(container, "securityContext", "readOnlyRootFilesystem"));
            // A read-only root still needs a writable /tmp (the runtime's diagnostics socket, temp files).
            Assert.Contains(Items(container, "volumeMounts"), m => ScalarAt(m, "mountPath") == "/tmp");
            // Graceful shutdown: the endpoint leaves the Service before SIGTERM, and the process gets time to drain.
            Assert.NotNull(Get(container, "lifecycle", "preStop"));
            Assert.True(int.Parse(ScalarAt(deployment.Document, "spec", "template", "spec", "terminationGracePeriodSeconds") ?? "30", System.Globalization.CultureInfo.InvariantCulture) >= 30);
            Assert.Equal("0", ScalarAt(deployment.Document, "spec", "strategy", "rollingUpdate", "maxUnavailable"));
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void No_secret_is_inlined_and_every_referenced_secret_is_documented(string kustomization)
    {
        var manifests = Kustomize(kustomization);
        Assert.DoesNotContain(manifests, m => m.Kind == "Secret");
        var guide = File.ReadAllText(PathOf("docs/deploying.md"));
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var manifest in manifests)
        {
            foreach (var map in Mappings(manifest.Document))
            {
                if (ScalarAt(map, "secretKeyRef", "name") is { } secret)
                {
                    referenced.Add(secret);
                }
                // An environment variable that carries a credential must come from a Secret, never a literal.
                if (ScalarAt(map, "name") is { } name && ScalarAt(map, "value") is not null && SecretLikeName().IsMatch(name))
                {
                    Assert.Fail($"{manifest}: {name} is set inline; reference a Secret");
                }
            }
        }
        Assert.NotEmpty(referenced);
        foreach (var secret in referenced)
        {
            Assert.True(guide.Contains(secret, StringComparison.Ordinal), $"Secret {secret} is referenced but docs/deploying.md does not say how to create it");
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_image_is_pinned_by_a_tag(string kustomization)
    {
        var images = Kustomize(kustomization).SelectMany(m => Mappings(m.Document)).Select(map => ScalarAt(map, "image")).OfType<string>().ToList();
        Assert.NotEmpty(images);
        foreach (var image in images)
        {
            var tag = ImageTag(image);
            Assert.False(tag is null || tag == "latest", $"{image} is not pinned by a tag");
        }
    }

    [Fact]
    public void Services_target_ports_their_containers_declare()
    {
        var manifests = Kustomize(Engines);
        foreach (var service in manifests.Where(m => m.Kind == "Service"))
        {
            var selector = ScalarAt(service.Document, "spec", "selector", "app.kubernetes.io/name");
            var workload = Assert.Single(manifests, m => m.Kind is "Deployment" or "StatefulSet" && m.Name == selector);
            var containerPorts = Items(workload.Document, "spec", "template", "spec", "containers")
                .SelectMany(c => Items(c, "ports")).Select(p => (Name: ScalarAt(p, "name"), Port: ScalarAt(p, "containerPort"))).ToList();
            foreach (var port in Items(service.Document, "spec", "ports"))
            {
                var target = ScalarAt(port, "targetPort") ?? ScalarAt(port, "port");
                Assert.True(containerPorts.Any(p => p.Name == target || p.Port == target), $"{service}: targetPort {target} is no port of {workload}");
            }
        }
    }

    [Fact]
    public void Network_policies_deny_by_default_and_let_the_gateway_reach_every_service()
    {
        var manifests = Kustomize(Base);
        var policies = manifests.Where(m => m.Kind == "NetworkPolicy").ToList();
        Assert.Contains(policies, p => Get(p.Document, "spec", "ingress") is null
            && ScalarAt(p.Document, "spec", "podSelector", "matchLabels", "app.kubernetes.io/part-of") == "portico");
        var gatewayLabels = Labels(Assert.Single(manifests, m => m.Kind == "Deployment" && m.Name == "gateway"));
        foreach (var service in manifests.Where(m => m.Kind == "Deployment" && m.Name != "gateway"))
        {
            var labels = Labels(service);
            var admitting = policies.Where(p => Selects(Get(p.Document, "spec", "podSelector"), labels)).ToList();
            Assert.True(admitting.Count > 0, $"{service}: no NetworkPolicy selects it");
            Assert.True(
                admitting.SelectMany(p => Items(p.Document, "spec", "ingress")).Any(rule => Items(rule, "from").Any(peer => Selects(Get(peer, "podSelector"), gatewayLabels))),
                $"{service}: the gateway may not reach it");
            // Only named peers, never the whole cluster: every ingress rule of a service lists where it may come from.
            Assert.All(admitting.SelectMany(p => Items(p.Document, "spec", "ingress")), rule => Assert.NotEmpty(Items(rule, "from")));
        }
    }

    [Fact]
    public void The_gateway_scales_horizontally_and_reads_the_repository_gateway_file()
    {
        var manifests = Kustomize(Base);
        var autoscaler = Assert.Single(manifests, m => m.Kind == "HorizontalPodAutoscaler");
        Assert.Equal("gateway", ScalarAt(autoscaler.Document, "spec", "scaleTargetRef", "name"));
        Assert.True(int.Parse(ScalarAt(autoscaler.Document, "spec", "minReplicas")!, System.Globalization.CultureInfo.InvariantCulture) >= 2);

        var kustomization = Load(Path.Combine(Base, "kustomization.yaml")).Single().Document;
        var generator = Assert.Single(Items(kustomization, "configMapGenerator"), g => ScalarAt(g, "name") == "portico-gateway-file");
        var source = Assert.Single(Strings(generator, "files")).Split('=', 2)[1];
        Assert.Equal(PathOf("src/Gateway.Host/gateway.json"), Path.GetFullPath(Path.Combine(Base, source)));

        var gateway = Assert.Single(manifests, m => m.Kind == "Deployment" && m.Name == "gateway");
        var container = Assert.Single(Items(gateway.Document, "spec", "template", "spec", "containers"));
        var configFile = Items(container, "env").Single(e => ScalarAt(e, "name") == "Portico__ConfigFile");
        var mount = Items(container, "volumeMounts").Single(m => ScalarAt(m, "name") == "gateway-file");
        Assert.Equal(ScalarAt(mount, "mountPath") + "/gateway.json", ScalarAt(configFile, "value"));
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Each_kustomization_lists_every_manifest_in_its_folder(string kustomization)
    {
        var document = Load(Path.Combine(kustomization, "kustomization.yaml")).Single().Document;
        var listed = Strings(document, "resources").Select(r => Path.GetFullPath(Path.Combine(kustomization, r))).ToHashSet();
        foreach (var file in Directory.GetFiles(kustomization, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml"))
        {
            Assert.True(listed.Contains(file), $"{file} is not listed in {kustomization}/kustomization.yaml");
        }
        foreach (var resource in listed)
        {
            Assert.True(File.Exists(resource) || File.Exists(Path.Combine(resource, "kustomization.yaml")), $"{resource} does not exist");
        }
    }

    private static Dictionary<string, string> Labels(Manifest workload) =>
        Get(workload.Document, "spec", "template", "metadata", "labels") is YamlMappingNode labels
            ? labels.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!)
            : [];

    /// <summary>Whether a label selector (matchLabels and In expressions) selects pods with <paramref name="labels"/>.</summary>
    private static bool Selects(YamlNode? selector, Dictionary<string, string> labels)
    {
        if (selector is null)
        {
            return false;
        }
        var matchLabels = Get(selector, "matchLabels") as YamlMappingNode;
        var labelsMatch = matchLabels?.Children.All(kv => labels.TryGetValue(((YamlScalarNode)kv.Key).Value!, out var v) && v == ((YamlScalarNode)kv.Value).Value) ?? true;
        var expressionsMatch = Items(selector, "matchExpressions").All(e =>
            ScalarAt(e, "operator") == "In" && labels.TryGetValue(ScalarAt(e, "key")!, out var v) && Strings(e, "values").Contains(v));
        return labelsMatch && expressionsMatch;
    }

    [GeneratedRegex("password|secret|connectionstrings|token|apikey", RegexOptions.IgnoreCase)]
    private static partial Regex SecretLikeName();
}
