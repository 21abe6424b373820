using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using Portico.Tests.Common;

namespace Portico.Dashboard.Tests;

/// <summary>One Chromium for the class: Debian's, launched from /usr/bin/chromium (never a downloaded one).</summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: apt-get install -y chromium (scripts/test.sh does).");
        _playwright = await Playwright.CreateAsync();
        // Every expectation waits up to 20 s (Playwright's 5 s is short on a loaded 2-core CI machine).
        Assertions.SetDefaultExpectTimeout(20_000);
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
    }
}

/// <summary>
/// The dashboard (issue #24) in a real browser against the real gateway and real backends: what an operator sees and
/// does, checked through the admin API and at the backends.
/// </summary>
public sealed class DashboardTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dashboard_LoadsAfterSignIn_AndListsTheRoutes()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);

        await Expect(page.Locator("#routes-table tr[data-route='items']")).ToBeVisibleAsync();
        await Expect(page.Locator("#routes-table tr[data-route='items']")).ToContainTextAsync("/items/{**rest}");
        await Expect(page.Locator("#routes-table tr[data-route='items']")).ToContainTextAsync("cache: items");
        await Expect(page.Locator("#live-state")).ToHaveTextAsync("live");
    }

    [Fact]
    public async Task Dashboard_WithoutAnAdminToken_ShowsNoData()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await chromium.Browser.NewPageAsync();
        await page.GotoAsync(new Uri(env.Gateway.Address, "/portico/").ToString());
        await page.Locator("summary").ClickAsync();
        await page.Locator("#token-form input[name='token']").FillAsync(env.Identity.Tokens.CreateToken("u1", ["user"]));
        await page.Locator("#token-form button").ClickAsync();

        await Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("This account is not an admin.");
        await Expect(page.Locator("#main")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task StoppingADestination_TurnsItsTileUnhealthy()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);
        var tile = page.Locator("[data-destination^='svc-1[']");
        await Expect(tile).ToHaveAttributeAsync("data-status", "healthy");

        await env.B.StopAsync();

        await Expect(tile).ToHaveAttributeAsync("data-status", "unhealthy");
        await Expect(tile).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("\\bunhealthy\\b"));
    }

    [Fact]
    public async Task DrainingFromTheDashboard_StopsTrafficToTheDestination_WhileRequestsKeepSucceeding()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);
        var tile = page.Locator("[data-destination^='svc-0[']");
        await tile.GetByRole(AriaRole.Button, new() { Name = "Drain…", Exact = true }).ClickAsync();
        // No shared store here: the confirmation says the drain is this instance's alone before it is made.
        await Expect(page.Locator("#confirm-text")).ToContainTextAsync("on this gateway instance only");
        await page.Locator("#confirm-ok").ClickAsync();
        await Expect(tile).ToHaveAttributeAsync("data-status", "drained");

        var before = env.A.RequestCount;
        using var client = env.Gateway.CreateHttpClient();
        for (var i = 0; i < 12; i++)
        {
            using var response = await client.GetAsync($"/items/drained-{i}", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(before, env.A.RequestCount);
    }

    [Fact]
    public async Task PurgingFromTheDashboard_EmptiesTheEntries()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        using var client = env.Gateway.CreateHttpClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/items/{i}", Ct)).StatusCode);
        }
        Assert.Equal(3, await env.CacheEntriesAsync());

        var page = await OpenAsync(env);
        await Expect(page.Locator("#cache-table tr[data-policy='items'] [data-figure='entries']")).ToHaveTextAsync("3");
        await page.Locator("#cache-table tr[data-policy='items']").GetByRole(AriaRole.Button, new() { Name = "Purge items…", Exact = true }).ClickAsync();
        await Expect(page.Locator("#confirm")).ToBeVisibleAsync();
        await page.Locator("#confirm-ok").ClickAsync();

        await Expect(page.Locator("#cache-table tr[data-policy='items'] [data-figure='entries']")).ToHaveTextAsync("0");
        Assert.Equal(0, await env.CacheEntriesAsync()); // through the API, not only on the page
    }

    [Fact]
    public async Task ConfigEditWithTwoErrors_ShowsBoth_AndChangesNothing()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);
        var editor = page.Locator("#config-text");
        await Expect(editor).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("ReverseProxy"));
        var before = await env.ConfigVersionAsync();

        var broken = (await editor.InputValueAsync())
            .Replace("\"ClusterId\": \"svc\"", "\"ClusterId\": \"missing\"", StringComparison.Ordinal)
            .Replace("\"Ttl\": \"00:01:00\"", "\"Ttl\": \"-00:00:05\"", StringComparison.Ordinal);
        await editor.FillAsync(broken);
        await page.Locator("#config-validate").ClickAsync();
        await Expect(page.Locator("#config-errors li")).ToHaveCountAsync(2);
        await Expect(page.Locator("#config-errors")).ToContainTextAsync("missing");
        await Expect(page.Locator("#config-errors")).ToContainTextAsync("Ttl must be positive");

        // Applying it is refused the same way, and the version in force stays.
        await page.Locator("#config-apply").ClickAsync();
        await page.Locator("#confirm-ok").ClickAsync();
        await Expect(page.Locator("#config-status")).ToHaveTextAsync("2 error(s); nothing applied.");
        await Expect(page.Locator("#config-errors li")).ToHaveCountAsync(2);
        Assert.Equal(before, await env.ConfigVersionAsync());
        using var client = env.Gateway.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items/still", Ct)).StatusCode);
    }

    [Fact]
    public async Task ValidConfigEdit_AddsARouteThatServes()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);
        var editor = page.Locator("#config-text");
        await Expect(editor).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("ReverseProxy"));
        using var client = env.Gateway.CreateHttpClient();
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/extra/1", Ct)).StatusCode);

        var withExtra = (await editor.InputValueAsync()).Replace("\"Routes\": {",
            "\"Routes\": {\n      \"extra\": { \"ClusterId\": \"svc\", \"AuthorizationPolicy\": \"anonymous\", \"Match\": { \"Path\": \"/extra/{**rest}\" } },",
            StringComparison.Ordinal);
        await editor.FillAsync(withExtra);
        await page.Locator("#config-apply").ClickAsync();
        await page.Locator("#confirm-ok").ClickAsync();

        await Expect(page.Locator("#routes-table tr[data-route='extra']")).ToBeVisibleAsync();
        await Poll.UntilAsync(async () => (await client.GetAsync("/extra/1", Ct)).StatusCode == HttpStatusCode.OK, "the added route to serve");
        await Expect(page.Locator("#versions li")).ToHaveCountAsync(2);
    }

    [Fact]
    public async Task Screenshots_UnderTraffic_AtBothSizes()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        using var traffic = new CancellationTokenSource();
        var load = env.SendTrafficAsync(traffic.Token);
        try
        {
            foreach (var (width, height, scheme) in new[] { (1280, 800, ColorScheme.Light), (390, 844, ColorScheme.Dark) })
            {
                var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
                {
                    ViewportSize = new ViewportSize { Width = width, Height = height },
                    ColorScheme = scheme,
                    DeviceScaleFactor = 1,
                });
                var page = await context.NewPageAsync();
                await SignInAsync(page, env);
                // A few seconds of figures, so the charts have a line to draw.
                await Expect(page.Locator("#total-rps")).Not.ToHaveTextAsync("0");
                await Poll.UntilAsync(async () => await page.Locator("#requests-table tbody tr").CountAsync() >= 5, "sampled requests to show");
                await Poll.UntilAsync(async () => await page.EvaluateAsync<int>("() => document.querySelector('#spark-rps polyline').points.numberOfItems") >= 8,
                    "eight seconds of figures in the requests chart");
                var path = Path.Combine(RepositoryRoot(), "docs", $"dashboard-{width}x{height}.png");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = false });
                Assert.True(new FileInfo(path).Length > 10_000, $"{path} is too small to show the dashboard.");

                // Nothing on the page is wider than the viewport: the narrow layout holds.
                var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
                Assert.True(overflow <= 0, $"At {width}px the page scrolls sideways by {overflow}px.");
                await context.CloseAsync();
            }
        }
        finally
        {
            await traffic.CancelAsync();
            await load;
        }
    }

    [Fact]
    public async Task Keyboard_ReachesTheActions_KeepsFocusThroughAHealthChange_AndEscapeCancelsAConfirmation()
    {
        await using var env = await DashboardEnvironment.StartAsync();
        var page = await OpenAsync(env);
        var drain = page.Locator("[data-destination^='svc-0[']").GetByRole(AriaRole.Button, new() { Name = "Drain…", Exact = true });
        await Expect(page.Locator("[data-destination^='svc-1[']")).ToHaveAttributeAsync("data-status", "healthy");
        await drain.FocusAsync();

        // Another destination's health changes, and the cluster list is drawn again: focus stays where it was.
        await env.B.StopAsync();
        await Expect(page.Locator("[data-destination^='svc-1[']")).ToHaveAttributeAsync("data-status", "unhealthy");
        await Expect(drain).ToBeFocusedAsync();

        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#confirm")).ToBeVisibleAsync();
        await Expect(page.Locator("#confirm-cancel")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.Locator("#confirm")).ToBeHiddenAsync();
        await Expect(page.Locator("[data-destination^='svc-0[']")).ToHaveAttributeAsync("data-status", new System.Text.RegularExpressions.Regex("healthy|unknown"));
    }

    [Fact]
    public async Task TranscodedServices_AndJobQueueDepths_AreShown()
    {
        await using var env = await DashboardEnvironment.StartAsync(withGrpcAndJobs: true);
        using var client = env.Gateway.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", env.Identity.Tokens.CreateToken("u1", ["user"]));
        for (var i = 0; i < 2; i++)
        {
            // No worker takes them: both requests wait in the job's in-queue.
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/reports", null, Ct)).StatusCode);
        }
        var page = await OpenAsync(env);

        var service = page.Locator("#transcoding-list [data-service='demo.v1.Demo']");
        await Expect(service.Locator("[data-figure='source']")).ToContainTextAsync("descriptor-set demo.binpb");
        await Expect(service.Locator("tr[data-method='GetItem']")).ToContainTextAsync("GET /v1/items/{id}");
        await Expect(service.Locator("tr[data-method='GetItem']")).ToContainTextAsync("unary");

        var job = page.Locator("#jobs-body tr[data-job='report']");
        await Expect(job.Locator("[data-figure='in-queue']")).ToContainTextAsync("2 waiting");
        await Expect(job.Locator("[data-figure='out-queue']")).ToContainTextAsync("0 waiting");
    }

    private async Task<IPage> OpenAsync(DashboardEnvironment env)
    {
        var page = await chromium.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        await SignInAsync(page, env);
        return page;
    }

    private static async Task SignInAsync(IPage page, DashboardEnvironment env)
    {
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        var response = await page.GotoAsync(new Uri(env.Gateway.Address, "/portico/").ToString());
        Assert.True(response?.Ok == true, $"GET /portico/: {response?.Status}");
        await page.Locator("summary").ClickAsync();
        await page.Locator("#token-form input[name='token']").FillAsync(env.AdminToken);
        await page.Locator("#token-form button").ClickAsync();
        await Expect(page.Locator("#main")).ToBeVisibleAsync();
        Assert.True(errors.Count == 0, "The page's script failed: " + string.Join(" | ", errors));
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Portico.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("The repository root (Portico.slnx) is not above " + AppContext.BaseDirectory);
    }
}

/// <summary>Two backends (destinations svc-0 and svc-1 of cluster svc), a stand-in Identity, and the real gateway.</summary>
internal sealed class DashboardEnvironment : IAsyncDisposable
{
    private GarnetTestServer? _store;
    private string? _folder;

    private DashboardEnvironment(StandInIdentity identity, TestBackend a, TestBackend b, GatewayHost gateway)
    {
        Identity = identity;
        A = a;
        B = b;
        Gateway = gateway;
        AdminToken = identity.Tokens.CreateToken("ops-admin", ["admin"], expires: DateTime.UtcNow.AddHours(1));
    }

    public StandInIdentity Identity { get; }
    public TestBackend A { get; }
    public TestBackend B { get; }
    public GatewayHost Gateway { get; }
    public string AdminToken { get; }

    /// <param name="withGrpcAndJobs">
    /// Also a gRPC service (<c>demo.v1.Demo</c>, from a descriptor-set file) transcoded to REST, and a job route
    /// (<c>report</c>, queue <c>reports</c>) over the embedded store, whose in-queue no worker consumes.
    /// </param>
    public static async Task<DashboardEnvironment> StartAsync(bool withGrpcAndJobs = false)
    {
        var identity = await StandInIdentity.StartAsync(new TestTokenIssuer());
        var a = await TestBackend.StartAsync("a", app =>
        {
            app.MapGet("/items/{id}", (string id) => "a" + id);
            app.MapGet("/extra/{id}", (string id) => "extra" + id);
        });
        var b = await TestBackend.StartAsync("b", app =>
        {
            app.MapGet("/items/{id}", (string id) => "b" + id);
            app.MapGet("/extra/{id}", (string id) => "extra" + id);
        });
        var settings = new Dictionary<string, string?>
        {
            ["Portico:Jwt:JwksUrl"] = identity.JwksUrl,
            ["Portico:HealthChecks:ActiveInterval"] = "00:00:00.500",
            ["Portico:HealthChecks:ActiveTimeout"] = "00:00:00.500",
        };
        GarnetTestServer? store = null;
        string? folder = null, extra = null;
        if (withGrpcAndJobs)
        {
            store = GarnetTestServer.Start();
            settings["ConnectionStrings:store"] = store.ConnectionString;
            settings["Portico:Jobs:Queues:0"] = "reports";
            folder = Directory.CreateTempSubdirectory("portico-dashboard-grpc-").FullName;
            var descriptorSet = Path.Combine(folder, "demo.binpb");
            await File.WriteAllBytesAsync(descriptorSet, DemoDescriptorSet());
            extra = $$"""
                ,
                "Transcoding": { "Services": { "demo.v1.Demo": { "Cluster": "svc", "DescriptorSet": {{System.Text.Json.JsonSerializer.Serialize(descriptorSet)}} } } },
                "Jobs": { "report": { "Path": "/api/reports", "Queue": "reports" } }
                """;
        }
        var gateway = await GatewayHost.StartAsync(Config(a.Address, b.Address, extra), settings);
        return new DashboardEnvironment(identity, a, b, gateway) { _store = store, _folder = folder };
    }

    /// <summary>
    /// What <c>protoc --descriptor_set_out --include_imports</c> writes for a small service with one HTTP rule
    /// (<c>GET /v1/items/{id}</c>), made here so this project needs no .proto of its own.
    /// </summary>
    private static byte[] DemoDescriptorSet()
    {
        var file = new Google.Protobuf.Reflection.FileDescriptorProto { Name = "demo/v1/demo.proto", Package = "demo.v1", Syntax = "proto3", Dependency = { "google/api/annotations.proto" } };
        file.MessageType.Add(new Google.Protobuf.Reflection.DescriptorProto
        {
            Name = "Item",
            Field =
            {
                new Google.Protobuf.Reflection.FieldDescriptorProto
                {
                    Name = "id", JsonName = "id", Number = 1,
                    Type = Google.Protobuf.Reflection.FieldDescriptorProto.Types.Type.Int64,
                    Label = Google.Protobuf.Reflection.FieldDescriptorProto.Types.Label.Optional,
                },
            },
        });
        var method = new Google.Protobuf.Reflection.MethodDescriptorProto { Name = "GetItem", InputType = ".demo.v1.Item", OutputType = ".demo.v1.Item", Options = new() };
        method.Options.SetExtension(Google.Api.AnnotationsExtensions.Http, new Google.Api.HttpRule { Get = "/v1/items/{id}" });
        file.Service.Add(new Google.Protobuf.Reflection.ServiceDescriptorProto { Name = "Demo", Method = { method } });
        var set = new Google.Protobuf.Reflection.FileDescriptorSet();
        set.File.Add(Google.Protobuf.Reflection.DescriptorReflection.Descriptor.ToProto());
        set.File.Add(Google.Api.HttpReflection.Descriptor.ToProto());
        set.File.Add(Google.Api.AnnotationsReflection.Descriptor.ToProto());
        set.File.Add(file);
        return Google.Protobuf.MessageExtensions.ToByteArray(set);
    }

    public async Task<int> CacheEntriesAsync()
    {
        var cache = await GetAsync("/portico/api/cache");
        return cache.AsArray().Single(p => p!["policy"]!.GetValue<string>() == "items")!["entries"]!.GetValue<int>();
    }

    public async Task<string> ConfigVersionAsync() => (await GetAsync("/portico/api/config"))["version"]!.GetValue<string>();

    /// <summary>Requests to the gateway until cancelled: most hit the cache, some go to the backends, a few find no route.</summary>
    public async Task SendTrafficAsync(CancellationToken cancellationToken)
    {
        using var client = Gateway.CreateHttpClient();
        var i = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var path = i % 17 == 0 ? "/nothing-here" : $"/items/{i % 40}";
                using var _ = await client.GetAsync(path, cancellationToken);
                i++;
                await Task.Delay(15, cancellationToken); // a steady rate, not a flood, on a shared machine
            }
        }
        catch (OperationCanceledException)
        {
            // Done.
        }
    }

    private async Task<JsonNode> GetAsync(string path)
    {
        using var client = Gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    private static string Config(Uri a, Uri b, string? extra = null) =>
        $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "items": {
                "ClusterId": "svc",
                "AuthorizationPolicy": "anonymous",
                "Metadata": { "Portico.Cache": "items" },
                "Match": { "Path": "/items/{**rest}", "Methods": [ "GET" ] }
              }
            },
            "Clusters": {
              "svc": {
                "LoadBalancingPolicy": "RoundRobin",
                "Destinations": {
                  "svc-0": { "Address": "{{a}}" },
                  "svc-1": { "Address": "{{b}}" }
                }
              }
            }
          },
          "Portico": {
            "Caching": { "Policies": { "items": { "Ttl": "00:01:00", "Tags": [ "items" ] } } }{{extra}}
          }
        }
        """;

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await A.DisposeAsync();
        try
        {
            await B.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
            // Stopped by the test already.
        }
        await Identity.DisposeAsync();
        _store?.Dispose();
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
