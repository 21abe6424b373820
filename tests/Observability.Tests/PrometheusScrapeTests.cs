using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Portico.Tests.Common;
using YamlDotNet.RepresentationModel;

namespace Portico.Observability.Tests;

/// <summary>
/// The real Prometheus (Debian's <c>prometheus</c>, which scripts/test.sh installs) started with the shipped scrape
/// configuration, its file targets pointed at the running shop: through its HTTP API, every process is <c>up</c> and
/// the gateway's own series exist after traffic. Without the binary the test is skipped, and fails under <c>CI=true</c>.
/// </summary>
[Collection(ShopCollection.Name)]
public sealed class PrometheusScrapeTests(ShopProcesses shop)
{
    private static readonly TimeSpan Scraped = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Prometheus_with_the_shipped_scrape_config_finds_every_process_up_the_gateways_series_and_the_dashboards_metrics()
    {
        var cancel = TestContext.Current.CancellationToken;
        var binary = PrometheusBinary();
        var folder = Directory.CreateTempSubdirectory("portico-prometheus-").FullName;
        try
        {
            // Traffic the gateway measures: a proxied read.
            using (var gateway = shop.GatewayClient())
            {
                using var products = await gateway.GetAsync("/api/products", cancel);
                Assert.True(products.IsSuccessStatusCode, $"products: {(int)products.StatusCode}");
            }

            var config = ShippedConfigFor(folder, shop.Processes);
            var port = Ports.GetFreeTcpPort();
            var output = new ConcurrentQueue<string>();
            using var prometheus = Start(binary, config, folder, port, output);
            try
            {
                using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
                var expected = shop.Processes.Select(p => p.Name).Order().ToArray();
                var health = await Poll.UntilAsync(async () =>
                {
                    var targets = await ActiveTargetsAsync(api, cancel);
                    return targets.Count == expected.Length && targets.All(t => t.Health == "up") ? targets : null;
                }, Scraped, "every target up", output, cancel);
                Assert.Equal(expected, health.Select(t => t.Service).Order());

                var series = await Poll.UntilAsync(async () =>
                {
                    var names = await QueryNamesAsync(api, """{__name__=~"portico_gateway_.+",service="gateway"}""", cancel);
                    return names.Count > 0 ? names : null;
                }, Scraped, "a portico_gateway_* series of the gateway", output, cancel);
                Assert.Contains(series, n => n.StartsWith("portico_gateway_", StringComparison.Ordinal));

                // The Grafana dashboard's queries name series this Prometheus has, once an order has crossed the broker
                // (the messaging handlers' counter exists from the first message handled).
                using (var gateway = shop.GatewayClient())
                {
                    var user = await shop.SignUpAsync(gateway, "Pw-" + Guid.NewGuid().ToString("N"), cancel);
                    var productId = await shop.AnyProductAsync(gateway, cancel);
                    using var order = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = System.Net.Http.Json.JsonContent.Create(new { items = new[] { new { productId, quantity = 1 } } }) };
                    order.Headers.Authorization = new("Bearer", user.AccessToken);
                    using var placed = await gateway.SendAsync(order, cancel);
                    Assert.True(placed.IsSuccessStatusCode, $"order: {(int)placed.StatusCode}");
                }
                var used = ShippedConfigTests.DashboardMetricNames();
                Assert.NotEmpty(used);
                await Poll.UntilAsync(async () =>
                {
                    using var json = JsonDocument.Parse(await api.GetStringAsync("api/v1/label/__name__/values", cancel));
                    var known = json.RootElement.GetProperty("data").EnumerateArray().Select(n => n.GetString()).ToHashSet();
                    var missing = used.Where(n => !known.Contains(n)).ToList();
                    return missing.Count == 0 ? known : null;
                }, Scraped, "every metric the dashboard queries: " + string.Join(", ", used), output, cancel);
            }
            finally
            {
                prometheus.Kill(entireProcessTree: true);
                await prometheus.WaitForExitAsync(CancellationToken.None);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The shipped prometheus.yml with what cannot run here changed: no Kubernetes job (no cluster), a one-second scrape
    /// interval (so the test waits seconds, not minutes), and a targets file listing the running processes.
    /// </summary>
    private static string ShippedConfigFor(string folder, IReadOnlyList<ServiceProcess> processes)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(Repo.PathOf("deploy/observability/prometheus/prometheus.yml")))
        {
            stream.Load(reader);
        }
        var root = (YamlMappingNode)stream.Documents.Single().RootNode;
        var global = (YamlMappingNode)root["global"];
        global.Children[new YamlScalarNode("scrape_interval")] = new YamlScalarNode("1s");
        global.Children[new YamlScalarNode("scrape_timeout")] = new YamlScalarNode("1s");
        var jobs = (YamlSequenceNode)root["scrape_configs"];
        var kubernetes = jobs.Children.Single(j => j["job_name"].ToString() == "portico-kubernetes");
        jobs.Children.Remove(kubernetes);
        var files = (YamlMappingNode)jobs.Children.Single(j => j["job_name"].ToString() == "portico-files");
        var pattern = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)files["file_sd_configs"]).Children.Single())["files"]).Children.Single().ToString();
        Assert.Equal("targets/*.json", pattern);

        Directory.CreateDirectory(Path.Combine(folder, "targets"));
        File.WriteAllText(Path.Combine(folder, "targets", "shop.json"), JsonSerializer.Serialize(processes.Select(p => new
        {
            targets = new[] { p.Address.Authority },
            labels = new Dictionary<string, string> { ["service"] = p.Name },
        })));
        var path = Path.Combine(folder, "prometheus.yml");
        using (var writer = File.CreateText(path))
        {
            stream.Save(writer, assignAnchors: false);
        }
        return path;
    }

    private static Process Start(string binary, string config, string folder, int port, ConcurrentQueue<string> output)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var argument in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder, "data")}", $"--web.listen-address=127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start)!;
        DataReceivedEventHandler keep = (_, e) =>
        {
            if (e.Data is { } line)
            {
                output.Enqueue(line);
            }
        };
        process.OutputDataReceived += keep;
        process.ErrorDataReceived += keep;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<IReadOnlyList<(string Service, string Health)>> ActiveTargetsAsync(HttpClient api, CancellationToken cancel)
    {
        try
        {
            using var json = JsonDocument.Parse(await api.GetStringAsync("api/v1/targets?state=active", cancel));
            return [.. json.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                .Select(t => (t.GetProperty("labels").GetProperty("service").GetString()!, t.GetProperty("health").GetString()!))];
        }
        catch (HttpRequestException)
        {
            return []; // not listening yet
        }
    }

    private static async Task<IReadOnlyList<string>> QueryNamesAsync(HttpClient api, string selector, CancellationToken cancel)
    {
        using var json = JsonDocument.Parse(await api.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString(selector), cancel));
        return [.. json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
            .Select(r => r.GetProperty("metric").GetProperty("__name__").GetString()!).Distinct()];
    }

    /// <summary>The <c>prometheus</c> on PATH, or a failure (CI) or skip (elsewhere) saying there is none.</summary>
    private static string PrometheusBinary()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "prometheus")).FirstOrDefault(File.Exists);
        if (found is not null)
        {
            return found;
        }
        const string Missing = "No prometheus binary on PATH (Debian: apt-get install prometheus).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"{Missing} CI must run it: scripts/test.sh installs it.");
        }
        Assert.Skip($"{Missing} Run scripts/test.sh, or install it, to include this test.");
        return null!;
    }
}
