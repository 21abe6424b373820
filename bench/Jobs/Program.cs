// Job round trip through a running Portico: N submitters each POST a purchases report, then ask for its status
// every poll interval until it is terminal, and start the next. The round trip is POST sent → terminal status read,
// so it includes up to one poll interval of waiting; the interval is printed beside the figures.
// Run the system first (dotnet run --project src/AppHost), then:
//   dotnet run -c Release --project bench/Jobs -- [gateway-url] [submitters] [seconds] [poll-ms]
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

var gateway = new Uri(args.Length > 0 ? args[0] : "http://127.0.0.1:8080");
var submitters = args.Length > 1 ? int.Parse(args[1]) : 50;
var seconds = args.Length > 2 ? int.Parse(args[2]) : 30;
var poll = TimeSpan.FromMilliseconds(args.Length > 3 ? int.Parse(args[3]) : 20);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = submitters * 2 }) { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(30) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await SignUpAsync(http));

Console.WriteLine($"{submitters} submitters, status asked every {poll.TotalMilliseconds} ms, {gateway}");
await RunAsync(TimeSpan.FromSeconds(5), []); // warm-up: connections, JIT, the worker's first reports
var latencies = new List<double>();
var wall = Stopwatch.StartNew();
var (done, failed) = await RunAsync(TimeSpan.FromSeconds(seconds), latencies);
wall.Stop();
latencies.Sort();
double At(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p / 100 * latencies.Count) - 1)];
Console.WriteLine($"jobs {done} succeeded, {failed} not succeeded, in {wall.Elapsed.TotalSeconds:F1} s ({done / wall.Elapsed.TotalSeconds:F0} jobs/s)");
Console.WriteLine($"round trip ms: p50 {At(50):F1}, p90 {At(90):F1}, p99 {At(99):F1}, max {At(100):F1}");
return failed == 0 ? 0 : 1;

async Task<(int Done, int Failed)> RunAsync(TimeSpan duration, List<double> into)
{
    var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    int done = 0, failed = 0;
    await Task.WhenAll(Enumerable.Range(0, submitters).Select(async _ =>
    {
        while (Stopwatch.GetTimestamp() < end)
        {
            var started = Stopwatch.GetTimestamp();
            var status = await RoundTripAsync();
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (into)
            {
                into.Add(ms);
                _ = status == "succeeded" ? done++ : failed++;
            }
        }
    }));
    return (done, failed);
}

async Task<string> RoundTripAsync()
{
    using var accepted = await http.PostAsJsonAsync("/api/reports/purchases", new { from = "2000-01-01" });
    if (accepted.StatusCode != HttpStatusCode.Accepted)
    {
        return $"POST answered {(int)accepted.StatusCode}";
    }
    var location = accepted.Headers.Location!;
    while (true)
    {
        await Task.Delay(poll);
        using var answer = await http.GetAsync(location);
        if (answer.StatusCode != HttpStatusCode.OK)
        {
            return $"GET answered {(int)answer.StatusCode}";
        }
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        var status = body.RootElement.GetProperty("status").GetString();
        if (status is "succeeded" or "failed" or "cancelled")
        {
            return status;
        }
    }
}

static async Task<string> SignUpAsync(HttpClient http)
{
    var email = $"bench-{Guid.NewGuid():N}@example.test";
    const string password = "correct horse battery staple";
    (await http.PostAsJsonAsync("/api/auth/register", new { email, password, name = "Bench" })).EnsureSuccessStatusCode();
    using var token = await http.PostAsJsonAsync("/api/auth/token", new { email, password });
    token.EnsureSuccessStatusCode();
    using var body = JsonDocument.Parse(await token.Content.ReadAsStringAsync());
    return body.RootElement.GetProperty("access_token").GetString()!;
}
