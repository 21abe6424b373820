using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace Portico.Observability.Tests;

/// <summary>
/// The files in <c>deploy/observability</c> parse and agree with each other and with the index template.
/// Elasticsearch, Kibana, Filebeat and the collector cannot be installed here, so this is what can be checked.
/// </summary>
public sealed class ShippedConfigTests
{
    private static readonly string[] IndexPatterns = JsonDocument.Parse(File.ReadAllText(Repo.PathOf("deploy/observability/elasticsearch/portico-logs-template.json")))
        .RootElement.GetProperty("index_patterns").EnumerateArray().Select(p => p.GetString()!).ToArray();

    [Fact]
    public void The_collector_pipelines_use_only_components_it_defines_and_no_inline_credentials()
    {
        var root = LoadYaml("deploy/observability/otel-collector.yaml");
        var pipelines = (YamlMappingNode)root["service"]["pipelines"];
        Assert.Equal(["traces", "logs", "metrics"], pipelines.Children.Keys.Select(k => k.ToString()));
        foreach (var (name, pipeline) in pipelines.Children)
        {
            foreach (var kind in new[] { "receivers", "processors", "exporters" })
            {
                var defined = ((YamlMappingNode)root[kind]).Children.Keys.Select(k => k.ToString()).ToHashSet();
                foreach (var used in (YamlSequenceNode)pipeline[kind])
                {
                    Assert.True(defined.Contains(used.ToString()), $"pipeline {name} uses {kind} {used}, which is not defined");
                }
            }
        }
        var elasticsearch = (YamlMappingNode)root["exporters"]["elasticsearch"];
        foreach (var key in new[] { "user", "password" })
        {
            Assert.StartsWith("${env:", elasticsearch[key].ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Filebeat_ships_the_ecs_lines_as_they_are_to_the_templates_data_stream()
    {
        var root = LoadYaml("deploy/observability/filebeat.yml");
        var index = root["output.elasticsearch"]["index"].ToString();
        Assert.Contains(IndexPatterns, p => Matches(p, index));
        var input = (YamlMappingNode)((YamlSequenceNode)root["filebeat.inputs"]).Children.Single();
        var ndjson = ((YamlSequenceNode)input["parsers"]).Children.OfType<YamlMappingNode>().Select(p => p.Children.TryGetValue(new YamlScalarNode("ndjson"), out var n) ? n : null).Single(n => n is not null)!;
        Assert.Equal("", ndjson["target"].ToString()); // fields at the top level, where the template maps them
        Assert.Equal("false", root["setup.template.enabled"].ToString());
        Assert.StartsWith("${", root["output.elasticsearch"]["password"].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_kibana_search_finds_one_request_by_trace_id_in_the_templates_indices()
    {
        var objects = File.ReadAllLines(Repo.PathOf("deploy/observability/kibana/portico-saved-objects.ndjson"))
            .Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var dataView = Assert.Single(objects, o => o.GetProperty("type").GetString() == "index-pattern");
        var title = dataView.GetProperty("attributes").GetProperty("title").GetString()!;
        Assert.Contains(title, IndexPatterns);
        Assert.Equal("@timestamp", dataView.GetProperty("attributes").GetProperty("timeFieldName").GetString());

        var search = Assert.Single(objects, o => o.GetProperty("type").GetString() == "search");
        var reference = Assert.Single(search.GetProperty("references").EnumerateArray());
        Assert.Equal(dataView.GetProperty("id").GetString(), reference.GetProperty("id").GetString());
        var attributes = search.GetProperty("attributes");
        var source = JsonDocument.Parse(attributes.GetProperty("kibanaSavedObjectMeta").GetProperty("searchSourceJSON").GetString()!).RootElement;
        Assert.StartsWith("trace.id : ", source.GetProperty("query").GetProperty("query").GetString(), StringComparison.Ordinal);
        Assert.Equal(reference.GetProperty("name").GetString(), source.GetProperty("indexRefName").GetString());
        foreach (var column in attributes.GetProperty("columns").EnumerateArray())
        {
            Assert.True(EcsTemplate.Shipped.Types.ContainsKey(column.GetString()!), $"column {column} is not a field of the template");
        }
        Assert.Equal("asc", attributes.GetProperty("sort")[0][1].GetString());
    }

    [Fact]
    public void The_prometheus_config_scrapes_every_kubernetes_pod_of_portico_and_file_targets_labelled_by_service()
    {
        var root = LoadYaml("deploy/observability/prometheus/prometheus.yml");
        var jobs = ((YamlSequenceNode)root["scrape_configs"]).Children.Cast<YamlMappingNode>().ToDictionary(j => j["job_name"].ToString());
        Assert.Equal(["portico-kubernetes", "portico-files"], jobs.Keys);
        Assert.All(jobs.Values, j => Assert.Equal("/metrics", j["metrics_path"].ToString()));
        var relabel = ((YamlSequenceNode)jobs["portico-kubernetes"]["relabel_configs"]).Children.Cast<YamlMappingNode>().ToList();
        Assert.Contains(relabel, r => r["action"] is YamlScalarNode { Value: "keep" } && r["regex"].ToString() == "portico");
        Assert.Contains(relabel, r => r.Children.ContainsKey(new YamlScalarNode("target_label")) && r["target_label"].ToString() == "service");
        // Every Service of deploy/k8s has the label the job keeps, and a port named http.
        foreach (var manifest in Directory.GetFiles(Repo.PathOf("deploy/k8s/base"), "*.yaml").Where(f => System.Text.RegularExpressions.Regex.IsMatch(File.ReadAllText(f), "^kind: Deployment$", System.Text.RegularExpressions.RegexOptions.Multiline)))
        {
            var text = File.ReadAllText(manifest);
            Assert.Contains("app.kubernetes.io/part-of: portico", text, StringComparison.Ordinal);
            Assert.Contains("name: http", text, StringComparison.Ordinal);
        }
        var example = JsonDocument.Parse(File.ReadAllText(Repo.PathOf("deploy/observability/prometheus/targets/example.json"))).RootElement;
        Assert.All(example.EnumerateArray(), t => Assert.False(string.IsNullOrEmpty(t.GetProperty("labels").GetProperty("service").GetString())));
    }

    [Fact]
    public void The_grafana_dashboard_is_json_whose_panels_query_prometheus_by_service()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(Repo.PathOf("deploy/observability/grafana/portico-dashboard.json"))).RootElement;
        var panels = dashboard.GetProperty("panels").EnumerateArray().ToList();
        Assert.True(panels.Count >= 3, "request rate, p99 and errors at least");
        foreach (var panel in panels)
        {
            var expr = Assert.Single(panel.GetProperty("targets").EnumerateArray()).GetProperty("expr").GetString()!;
            Assert.Contains("service", expr, StringComparison.Ordinal);
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
        }
        // The names it queries are real: PrometheusScrapeTests finds each in a Prometheus that scraped the shop.
        Assert.Contains("http_server_request_duration_seconds_bucket", DashboardMetricNames());
        Assert.Contains("portico_gateway_upstream_duration_seconds_bucket", DashboardMetricNames());
    }

    /// <summary>Every metric name the dashboard's queries select (a name followed by a label selector).</summary>
    internal static IReadOnlyList<string> DashboardMetricNames()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(Repo.PathOf("deploy/observability/grafana/portico-dashboard.json"))).RootElement;
        return [.. dashboard.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .SelectMany(t => System.Text.RegularExpressions.Regex.Matches(t.GetProperty("expr").GetString()!, @"\b([a-z_:][a-z0-9_:]*)\{").Select(m => m.Groups[1].Value))
            .Distinct()
            .Order(StringComparer.Ordinal)];
    }

    private static YamlMappingNode LoadYaml(string relative)
    {
        var stream = new YamlStream();
        using var reader = File.OpenText(Repo.PathOf(relative));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    private static bool Matches(string pattern, string index) =>
        pattern.EndsWith('*') ? index.StartsWith(pattern[..^1], StringComparison.Ordinal) : index == pattern;
}
