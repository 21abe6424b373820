using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Portico.Contracts.Events;
using Portico.Reporting.Infrastructure;
using Portico.Reporting.Jobs;

namespace Portico.Reporting.Tests;

/// <summary>
/// Report jobs end to end on the embedded store: the gateway stores the job and sends it to its in-queue, Reporting
/// builds it from its read model and answers on the out-queue, the gateway records the result. A Reporting killed in
/// the middle of a job is replaced and the job still ends once; a thousand jobs at once all end, each exactly once.
/// </summary>
public sealed class JobsEndToEndTests : IAsyncLifetime
{
    private ReportingEnvironment _env = null!;
    private JobsGateway _gateway = null!;
    private readonly BuildCounter _builds = new();

    public async ValueTask InitializeAsync()
    {
        _env = await ReportingEnvironment.StartAsync();
        _gateway = await JobsGateway.StartAsync(_env);
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _env.DisposeAsync();
    }

    [Fact]
    public async Task ReportingKilledMidJob_AnotherOneFinishesIt_AndTheResultIsComputedOnce()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never opened: the first host blocks
        var first = await _env.StartReportingAsync(services => Count(services, gate.Task));
        var order = SalesReadModelTests.Order("dora", DateTimeOffset.UtcNow, (7, 3, 250));
        await _env.PlaceAsync(order);
        await Poll.UntilAsync(async () => await RowsAsync(first, db => db.Orders.CountAsync()) == 1, "the order in the read model");

        using var dora = _gateway.ClientFor("dora");
        var submitted = await dora.PostAsync("/api/reports/purchases", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var location = submitted.Headers.Location!.ToString();
        await Poll.UntilAsync(() => _builds.Started == 1, "the first Reporting to start building");
        await Poll.UntilAsync(async () => (await StatusAsync(dora, location)).GetProperty("status").GetString() == "running", "the job to be running");

        await first.DisposeAsync(); // killed while its handler is blocked: no result, no acknowledgement
        var second = await _env.StartReportingAsync(services => Count(services, Task.CompletedTask));

        JsonElement job = default;
        await Poll.UntilAsync(async () => (job = await StatusAsync(dora, location)).GetProperty("status").GetString() == "succeeded",
            "the job to succeed on the new Reporting", TimeSpan.FromSeconds(60));
        var result = job.GetProperty("result");
        Assert.Equal("dora", result.GetProperty("userId").GetString());
        Assert.Equal(750, result.GetProperty("totals").GetProperty("revenue").GetInt64());
        var jobId = Guid.Parse(job.GetProperty("id").GetString()!);
        var runs = await RowsAsync(second, db => db.JobRuns.CountAsync(r => r.JobId == jobId));
        TestContext.Current.TestOutputHelper?.WriteLine($"killed mid-job: builds started {_builds.Started}, completed {_builds.Completed}, results stored {runs}, attempts {job.GetProperty("attempts").GetInt32()}");
        Assert.Equal(2, _builds.Started);   // the killed one, and one on the new host
        Assert.Equal(1, _builds.Completed);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task ThousandJobsAtOnce_AllFinish_NoneLost_NoneCompletedTwice()
    {
        const int Jobs = 1000;
        var reporting = await _env.StartReportingAsync(services => Count(services, Task.CompletedTask));
        var users = Enumerable.Range(0, 20).Select(i => $"shopper-{i}").ToArray();
        foreach (var user in users)
        {
            await _env.PlaceAsync(SalesReadModelTests.Order(user, DateTimeOffset.UtcNow, (1, 1, 100)));
        }
        await Poll.UntilAsync(async () => await RowsAsync(reporting, db => db.Orders.CountAsync()) == users.Length, "the orders in the read model");
        using var finished = new MetricCollector<long>(_gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Portico.Gateway", "portico.gateway.jobs.finished");
        var clients = users.Select(u => _gateway.ClientFor(u)).ToArray();

        var submits = Enumerable.Range(0, Jobs).Select(async i =>
        {
            var client = clients[i % clients.Length];
            var response = await client.PostAsync("/api/reports/purchases", JsonContent.Create(new { from = "2000-01-01" }), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (Client: client, Location: response.Headers.Location!.ToString());
        });
        var jobs = await Task.WhenAll(submits);
        Assert.Equal(Jobs, jobs.Select(j => j.Location).Distinct().Count());

        var statuses = new ConcurrentDictionary<string, JsonElement>();
        await Poll.UntilAsync(async () =>
        {
            var open = jobs.Where(j => !statuses.ContainsKey(j.Location)).ToList();
            await Parallel.ForEachAsync(open, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (j, ct) =>
            {
                var status = await StatusAsync(j.Client, j.Location);
                if (status.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled")
                {
                    statuses[j.Location] = status;
                }
            });
            return statuses.Count == Jobs;
        }, "every job to reach a final status", TimeSpan.FromMinutes(4));

        var succeeded = statuses.Values.Count(s => s.GetProperty("status").GetString() == "succeeded");
        var storedResults = await RowsAsync(reporting, db => db.JobRuns.CountAsync());
        var finishedCount = finished.GetMeasurementSnapshot().Sum(m => m.Value);
        var maxBuildsPerJob = _builds.PerJob.Values.Max();
        var message = $"{Jobs} jobs submitted at once: {succeeded} succeeded, {Jobs - succeeded} not succeeded, {Jobs - statuses.Count} lost; " +
            $"reports built {_builds.Completed} (most for one job: {maxBuildsPerJob}), results stored {storedResults}, jobs finished at the gateway {finishedCount}";
        TestContext.Current.TestOutputHelper?.WriteLine(message);
        Assert.Equal(Jobs, succeeded);
        Assert.Equal(Jobs, _builds.Completed);
        Assert.Equal(1, maxBuildsPerJob);
        Assert.Equal(Jobs, storedResults);
        Assert.Equal(Jobs, finishedCount);
        Assert.All(statuses.Values, s => Assert.Equal(1, s.GetProperty("result").GetProperty("totals").GetProperty("orders").GetInt32()));
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    /// <summary>Puts a counting (and, until <paramref name="gate"/> completes, blocking) wrapper around the purchases report.</summary>
    private void Count(IServiceCollection services, Task gate)
    {
        services.RemoveAll<IJobReport>();
        services.AddScoped<IJobReport>(sp => new CountingReport(ActivatorUtilities.CreateInstance<PurchasesJobReport>(sp), _builds, gate));
        services.AddScoped<IJobReport>(sp => ActivatorUtilities.CreateInstance<SalesJobReport>(sp));
    }

    private static async Task<JsonElement> StatusAsync(HttpClient client, string location)
    {
        var response = await client.GetAsync(location, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    private static async Task<T> RowsAsync<T>(ReportingApp app, Func<ReportingDbContext, Task<T>> query)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<ReportingDbContext>());
    }

    private sealed class BuildCounter
    {
        private int _started;
        private int _completed;

        public int Started => Volatile.Read(ref _started);
        public int Completed => Volatile.Read(ref _completed);
        public ConcurrentDictionary<Guid, int> PerJob { get; } = new();

        public void Start() => Interlocked.Increment(ref _started);

        public void Complete(Guid job)
        {
            Interlocked.Increment(ref _completed);
            PerJob.AddOrUpdate(job, 1, (_, n) => n + 1);
        }
    }

    private sealed class CountingReport(IJobReport inner, BuildCounter counter, Task gate) : IJobReport
    {
        public string Queue => inner.Queue;

        public async Task<JsonElement> BuildAsync(JobRequested request, CancellationToken cancellationToken)
        {
            counter.Start();
            await gate.WaitAsync(cancellationToken);
            var result = await inner.BuildAsync(request, cancellationToken);
            counter.Complete(request.JobId);
            return result;
        }
    }
}
