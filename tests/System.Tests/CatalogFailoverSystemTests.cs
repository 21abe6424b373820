using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Portico.SystemTests;

/// <summary>Stops a Catalog instance the other system tests may be using: runs alone, after them.</summary>
[CollectionDefinition(nameof(CatalogFailoverCollection), DisableParallelization = true)]
public sealed class CatalogFailoverCollection;

[Collection(nameof(CatalogFailoverCollection))]
public sealed class CatalogFailoverSystemTests(PorticoSystemFixture system, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ThousandProductReads_WhileOneOfTwoCatalogInstancesIsStopped_NoneFails()
    {
        var commands = system.App.Services.GetRequiredService<ResourceCommandService>();
        const int Total = 1000, StopAt = 200;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var sent = 0;
        // A plain client: no retries of its own to hide what the gateway answered.
        using var client = new HttpClient { BaseAddress = system.Gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await Parallel.ForAsync(0, Total, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (_, ct) =>
            {
                var n = Interlocked.Increment(ref sent);
                if (n == StopAt)
                {
                    var stopped = await commands.ExecuteCommandAsync("catalog-b", KnownResourceCommands.StopCommand, ct);
                    Assert.True(stopped.Success, $"{stopped.Message}\n{system.DescribeResources()}");
                }
                // A different page each time, so the gateway's cache answers none of them.
                try
                {
                    using var response = await client.GetAsync($"/api/products?pageSize=2&page={n}", ct);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"#{n} at {clock.ElapsedMilliseconds} ms: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    failures.Enqueue($"#{n} at {clock.ElapsedMilliseconds} ms: {ex.HttpRequestError} {ex.Message}");
                }
            });
        }
        finally
        {
            await commands.ExecuteCommandAsync("catalog-b", KnownResourceCommands.StartCommand, CancellationToken.None);
            await system.App.ResourceNotifications.WaitForResourceHealthyAsync("catalog-b", CancellationToken.None);
        }

        output.WriteLine($"{Total} reads in {clock.ElapsedMilliseconds} ms, catalog-b stopped at #{StopAt}: {failures.Count} failed");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
    }
}
