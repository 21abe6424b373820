using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Portico.Gateway.Telemetry;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class AccessLogTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AccessLogFile_OneEscapedLinePerRequest_WithoutTheQuery_AndFlushedOnShutdown()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/{**rest}", () => Results.Text("ok")));
        var path = Path.Combine(Path.GetTempPath(), $"portico-access-{Guid.NewGuid():N}.log");
        try
        {
            string requestId;
            await using (var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("api", backend.Address), new Dictionary<string, string?>
            {
                ["Portico:AccessLog:Path"] = path,
                ["Portico:AccessLog:FlushInterval"] = "00:01:00", // only the shutdown flush can write these lines
            }))
            {
                using var plain = await gateway.Client.GetAsync("/api/items?token=secret", Ct);
                requestId = plain.Headers.GetValues("X-Request-Id").Single();
                using var forged = await gateway.Client.GetAsync("/api/a%0A2026-01-01T00:00:00.000Z%20GET%20/forged", Ct);
                using var missing = await gateway.Client.GetAsync("/nowhere", Ct);
            }

            var lines = await File.ReadAllLinesAsync(path, Ct);
            output.WriteLine(string.Join('\n', lines));
            Assert.Equal(3, lines.Length);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z GET /api/items 200 HTTP/1\.1 route=api \d+\.\d{3}ms id=" + requestId + "$", lines[0]);
            Assert.DoesNotContain("secret", lines[0]);
            Assert.StartsWith(lines[1][..24] + " GET /api/a\\x0A2026-01-01T00:00:00.000Z\\x20GET\\x20/forged 200 ", lines[1]);
            Assert.Contains(" GET /nowhere 404 ", lines[2]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AccessLogFile_RotatesBeforeTheFileOutgrowsItsLimit_KeepingWholeLinesAndOnlyTheNewestFiles()
    {
        var folder = Directory.CreateTempSubdirectory("portico-access-").FullName;
        var path = Path.Combine(folder, "access.log");
        try
        {
            var options = new AccessLogOptions
            {
                Path = path,
                MaxFileBytes = 1024 * 1024,
                RetainedFiles = 1,
                FlushInterval = TimeSpan.FromMinutes(1), // only full buffers and the final flush write
            };
            var log = new AccessLogFile(Options.Create(options), TimeProvider.System, NullLogger<AccessLogFile>.Instance);
            await log.StartAsync(Ct);
            // About 2.6 MB in 64 KB buffers: fewer buffers than the writer may have pending, so none is dropped.
            const int count = 30_000;
            for (var i = 0; i < count; i++)
            {
                log.Write("GET", $"/items/{i}", 200, "HTTP/1.1", "items", 1.5, $"id-{i}");
            }
            await log.DisposeAsync();

            Assert.False(File.Exists(path + ".2"));
            Assert.InRange(new FileInfo(path + ".1").Length, 1, options.MaxFileBytes);
            Assert.InRange(new FileInfo(path).Length, 1, options.MaxFileBytes);
            var lines = (await File.ReadAllLinesAsync(path + ".1", Ct)).Concat(await File.ReadAllLinesAsync(path, Ct)).ToList();
            var ids = lines.Select(line => int.Parse(System.Text.RegularExpressions.Regex.Match(
                line, @"^\S+Z GET /items/(\d+) 200 HTTP/1\.1 route=items 1\.500ms id=id-\1$").Groups[1].Value)).ToList();
            Assert.Equal(count - 1, ids[^1]);
            Assert.True(ids[0] > 0, "the oldest file was deleted");
            Assert.Equal(Enumerable.Range(ids[0], ids.Count), ids);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
