using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Portico.Observability.Tests;

/// <summary>
/// A real Portico service (Weather, as built), started as its own process with <c>Logging__Console__FormatterName=ecs</c>:
/// every line it writes to stdout is one ECS document the index template accepts, and the lines of one request carry
/// the trace id the caller sent in <c>traceparent</c> and the request's id.
/// </summary>
public sealed partial class EcsProcessTests
{
    [Fact]
    public async Task Every_line_a_running_service_writes_fits_the_template_and_carries_the_callers_trace()
    {
        var cancel = TestContext.Current.CancellationToken;
        var lines = new ConcurrentQueue<string>();
        using var process = StartWeather(lines);
        try
        {
            var address = await PollAsync(() => lines.Select(l => ListeningOn().Match(l)).FirstOrDefault(m => m.Success)?.Groups["url"].Value, cancel);
            var traceId = ActivityTraceId.CreateRandom().ToHexString();
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/weather?city=Seoul");
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var answer = await http.SendAsync(request, cancel);
            Assert.True(answer.IsSuccessStatusCode, $"weather answered {(int)answer.StatusCode}");

            // ASP.NET Core's "Request finished" line is written after the answer: wait for it.
            var finished = await PollAsync(() => lines.FirstOrDefault(l => l.Contains(traceId, StringComparison.Ordinal) && l.Contains("Request finished", StringComparison.Ordinal)), cancel);
            var json = JsonDocument.Parse(finished).RootElement;
            Assert.Equal("weather-under-test", json.GetProperty("service.name").GetString());
            Assert.Equal("/api/weather", json.GetProperty("url.path").GetString());
            Assert.False(string.IsNullOrEmpty(json.GetProperty("http.request.id").GetString()));
            Assert.Equal(traceId, json.GetProperty("trace.id").GetString());
            Assert.Equal("GET", json.GetProperty("http.request.method").GetString());
            Assert.Equal(200, json.GetProperty("http.response.status_code").GetInt32());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(cancel);
        }

        Assert.True(lines.Count >= 3, $"only {lines.Count} lines");
        foreach (var line in lines)
        {
            var problems = EcsTemplate.Shipped.Check(line);
            Assert.True(problems.Count == 0, $"{line}\n  {string.Join("\n  ", problems)}");
        }
    }

    private static Process StartWeather(ConcurrentQueue<string> lines)
    {
        // The service as built for this configuration (bin/<Configuration>/<tfm>, like this test's own output).
        var build = Path.GetRelativePath(Repo.PathOf("tests/Observability.Tests"), AppContext.BaseDirectory);
        var directory = Path.GetFullPath(Path.Combine(Repo.PathOf("services/Weather"), build));
        var start = new ProcessStartInfo("dotnet", Path.Combine(directory, "Portico.Weather.dll"))
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["OTEL_SERVICE_NAME"] = "weather-under-test";
        start.Environment["Logging__Console__FormatterName"] = "ecs";
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
            {
                lines.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<T> PollAsync<T>(Func<T?> find, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (find() is { } found)
            {
                return found;
            }
            await Task.Delay(50, cancel);
        }
        throw new TimeoutException("the service did not write the expected line within 30 s");
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
