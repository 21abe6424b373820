using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Portico.Gateway.Tests.Transcoding.Protos;

// One process: the Things gRPC service (h2c, with reflection), the gateway (as Gateway.Host builds it, knowing Things
// only by reflection), and the load: after WARMUP seconds each way, CONCURRENCY callers for DURATION seconds per run, ROUNDS rounds alternating
// (a) a generated gRPC client calling GetThing on the service directly, (b) GET /api/things/{id} through the
// gateway, which transcodes it to the same call, and (c) GET /plain/things/{id} through the gateway, proxied by YARP
// to a plain JSON endpoint of the same service answering the same JSON: what the gateway's HTTP hop costs without
// transcoding. Everything shares the machine's cores, the callers included, so the ratios are the figures to read,
// not the absolute rates.
var concurrency = Setting("CONCURRENCY", 32);
var duration = TimeSpan.FromSeconds(Setting("DURATION", 5));
var rounds = Setting("ROUNDS", 3);
var warmup = TimeSpan.FromSeconds(Setting("WARMUP", 15)); // unmeasured, each way: tiered JIT settles first

var service = WebApplication.CreateBuilder();
service.Logging.ClearProviders();
service.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
service.Services.AddGrpc();
service.Services.AddGrpcReflection();
await using var things = service.Build();
things.MapGrpcService<ThingsService>();
things.MapGrpcReflectionService();
things.MapGet("/plain/things/{id:long}", (long id) => Results.Json(new { id = id.ToString(System.Globalization.CultureInfo.InvariantCulture), name = "thing " + id, color = "RED", shelf = "top" }));
await things.StartAsync();
var thingsAddress = new Uri(things.Urls.Single());

var folder = Directory.CreateTempSubdirectory("portico-bench-transcoding-").FullName;
await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), $$"""
{
  "ReverseProxy": { "Routes": { "plain": { "ClusterId": "things", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/plain/things/{id}" } } },
    "Clusters": { "things": {
    "HttpRequest": { "Version": "2.0", "VersionPolicy": "RequestVersionExact" },
    "Destinations": { "a": { "Address": "http://127.0.0.1:{{thingsAddress.Port}}/" } } } } },
  "Portico": { "Transcoding": { "Services": { "portico.test.v1.Things": { "Cluster": "things", "Reflection": true, "AuthorizationPolicy": "anonymous" } } } }
}
""");
var gatewayBuilder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder });
gatewayBuilder.Logging.ClearProviders();
gatewayBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
gatewayBuilder.Configuration["Portico:Jwt:JwksUrl"] = $"http://127.0.0.1:{thingsAddress.Port}/no-jwks"; // no route here needs a token
gatewayBuilder.AddServiceDefaults();
gatewayBuilder.AddJwtAuthentication();
gatewayBuilder.AddPorticoGateway();
await using var gateway = gatewayBuilder.Build();
gateway.UsePorticoGateway();
gateway.MapPorticoGateway();
await gateway.StartAsync();
var gatewayAddress = new Uri(gateway.Urls.Single());

using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{thingsAddress.Port}");
var client = new Things.ThingsClient(channel);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri($"http://127.0.0.1:{gatewayAddress.Port}") };

var check = await http.GetStringAsync("/api/things/7");
Console.WriteLine($"# transcoded answer: {check}");
await RunAsync("warm-up direct", warmup, DirectAsync);
Console.WriteLine($"# proxied answer: {await http.GetStringAsync("/plain/things/7")}");
await RunAsync("warm-up transcoded", warmup, TranscodedAsync);
await RunAsync("warm-up proxied", warmup, ProxiedAsync);

var direct = new List<double>();
var transcoded = new List<double>();
var proxied = new List<double>();
for (var round = 1; round <= rounds; round++)
{
    var (rd, rt, rp) = (await RunAsync($"round {round} direct gRPC", duration, DirectAsync),
        await RunAsync($"round {round} transcoded", duration, TranscodedAsync), await RunAsync($"round {round} proxied", duration, ProxiedAsync));
    Console.WriteLine($"# round {round}: transcoded ÷ direct {rt / rd:P0}, proxied ÷ direct {rp / rd:P0}, transcoded ÷ proxied {rt / rp:P0}");
    (direct, transcoded, proxied) = ([.. direct, rd], [.. transcoded, rt], [.. proxied, rp]);
}
direct.Sort();
transcoded.Sort();
proxied.Sort();
var (d, t, p) = (direct[direct.Count / 2], transcoded[transcoded.Count / 2], proxied[proxied.Count / 2]);
Console.WriteLine($"| concurrency | direct gRPC rps (median) | transcoded rps (median) | proxied JSON rps (median) | transcoded ÷ direct | transcoded ÷ proxied |");
Console.WriteLine($"| {concurrency} | {d:N0} | {t:N0} | {p:N0} | {t / d:P0} | {t / p:P0} |");
await gateway.StopAsync();
await things.StopAsync();

async Task DirectAsync(long id) => await client.GetThingAsync(new GetThingRequest { Id = id });

async Task TranscodedAsync(long id)
{
    using var response = await http.GetAsync($"/api/things/{id}");
    response.EnsureSuccessStatusCode();
    await response.Content.ReadAsByteArrayAsync();
}

async Task ProxiedAsync(long id)
{
    using var response = await http.GetAsync($"/plain/things/{id}");
    response.EnsureSuccessStatusCode();
    await response.Content.ReadAsByteArrayAsync();
}

async Task<double> RunAsync(string name, TimeSpan length, Func<long, Task> call)
{
    var stop = Stopwatch.StartNew();
    long done = 0;
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
    {
        while (stop.Elapsed < length)
        {
            await call(worker);
            Interlocked.Increment(ref done);
        }
    }));
    var rps = done / stop.Elapsed.TotalSeconds;
    Console.WriteLine($"# {name}: {rps:N0} rps");
    return rps;
}

static int Setting(string name, int fallback) => int.TryParse(Environment.GetEnvironmentVariable(name), out var value) && value > 0 ? value : fallback;

internal sealed class ThingsService : Things.ThingsBase
{
    public override Task<Thing> GetThing(GetThingRequest request, ServerCallContext context) =>
        Task.FromResult(new Thing { Id = request.Id, Name = "thing " + request.Id, Color = Color.Red, Shelf = "top" });
}
