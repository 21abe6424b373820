using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Portico.Gateway.Jobs;

namespace Portico.Gateway.Tests.Jobs;

/// <summary>
/// Status drives retry, on the jobs clock (a FakeTimeProvider): a failed attempt, a worker that stops sending
/// heartbeats, or a request nobody starts is sent again by the sweeper after the backoff, with the attempt counted,
/// until the route's attempts are used up; then the job fails and is dead-lettered. A result is recorded once.
/// </summary>
public sealed class JobsRetryTests : IAsyncLifetime
{
    private JobsTestEnvironment _env = null!;

    public async ValueTask InitializeAsync() => _env = await JobsTestEnvironment.StartAsync();

    public async ValueTask DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task FailedAttempt_IsSentAgainAfterTheBackoff_AndSucceeds()
    {
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user);
        var first = await _env.NextRequestAsync();

        await _env.FailAsync(first, "database busy");
        var waiting = await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("attempts").GetInt32() == 2, "the failure to be recorded");
        Assert.Equal("queued", waiting.GetProperty("status").GetString());
        Assert.Equal(_env.Clock.GetUtcNow() + _env.Options.RetryInitialDelay, waiting.GetProperty("nextAttemptAt").GetDateTimeOffset());
        Assert.Contains("database busy", waiting.GetProperty("error").GetString(), StringComparison.Ordinal);

        _env.Advance(_env.Options.RetryInitialDelay);
        var second = await _env.NextRequestAsync();
        Assert.Equal((first.JobId, 2), (second.JobId, second.Attempt));
        await _env.BeatAsync(second);
        await _env.CompleteAsync(second, new { rows = 4 });

        var done = await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("status").GetString() == "succeeded", "the job to succeed");
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
        Assert.Equal(4, done.GetProperty("result").GetProperty("rows").GetInt32());
        Assert.True(done.TryGetProperty("startedAt", out _) && done.TryGetProperty("finishedAt", out _));
    }

    [Fact]
    public async Task WorkerThatStopsBeating_LosesTheJobAfterItsLease_AndItIsSentAgain()
    {
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user);
        var first = await _env.NextRequestAsync();
        await _env.BeatAsync(first);
        await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("status").GetString() == "running", "the job to run");

        _env.Advance(_env.Options.Lease);
        var lost = await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("attempts").GetInt32() == 2, "the lease to lapse");
        Assert.Equal("queued", lost.GetProperty("status").GetString());
        Assert.Contains("heartbeat", lost.GetProperty("error").GetString(), StringComparison.Ordinal);

        _env.Advance(_env.Options.RetryInitialDelay);
        var second = await _env.NextRequestAsync();
        Assert.Equal((first.JobId, 2), (second.JobId, second.Attempt));
    }

    [Fact]
    public async Task RequestNobodyStarts_IsSentAgainAfterTheQueueTimeout()
    {
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user);
        var first = await _env.NextRequestAsync(); // taken, but never started (no heartbeat)

        _env.Advance(_env.Options.QueueTimeout);
        await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("attempts").GetInt32() == 2, "the queue time to run out");
        _env.Advance(_env.Options.RetryInitialDelay);
        var second = await _env.NextRequestAsync();

        Assert.Equal((first.JobId, 2), (second.JobId, second.Attempt));
    }

    [Fact]
    public async Task AttemptsUsedUp_FailsTheJob_AndDeadLettersIt()
    {
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user); // route "mine": MaxAttempts 3
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var request = await _env.NextRequestAsync();
            Assert.Equal(attempt, request.Attempt);
            await _env.FailAsync(request, $"failure {attempt}");
            if (attempt < 3)
            {
                await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("attempts").GetInt32() == attempt + 1, "the failure to be recorded");
                _env.Advance(_env.Options.RetryDelay(attempt));
            }
        }

        var failed = await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("status").GetString() == "failed", "the job to fail");
        Assert.Equal(3, failed.GetProperty("attempts").GetInt32());
        Assert.Contains("No attempts left (3 of 3)", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        var dead = await _env.Gateway.Services.GetRequiredService<JobStore>().DeadLettersAsync(10);
        Assert.Equal(Guid.Parse(failed.GetProperty("id").GetString()!), Assert.Single(dead).Id);
        Assert.Equal(3, dead[0].Attempts);
    }

    [Fact]
    public async Task NonRetryableFailure_FailsAtOnce()
    {
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user);

        await _env.FailAsync(await _env.NextRequestAsync(), "the sales report is for admins", retryable: false);

        var failed = await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("status").GetString() == "failed", "the job to fail");
        Assert.Equal(1, failed.GetProperty("attempts").GetInt32());
        Assert.Equal("the sales report is for admins", failed.GetProperty("error").GetString());
    }

    [Fact]
    public async Task RepeatedOrLateResults_DoNotChangeAFinishedJob()
    {
        using var late = new MetricCollector<long>(_env.Gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Portico.Gateway", "portico.gateway.jobs.late_messages");
        using var finished = new MetricCollector<long>(_env.Gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Portico.Gateway", "portico.gateway.jobs.finished");
        using var user = _env.ClientFor("rita");
        var location = await SubmitAsync(user);
        var request = await _env.NextRequestAsync();

        await _env.CompleteAsync(request, new { n = 1 });
        await JobsTestEnvironment.WaitForAsync(user, location, s => s.GetProperty("status").GetString() == "succeeded", "the job to succeed");
        await _env.CompleteAsync(request, new { n = 2 });
        await _env.FailAsync(request, "too late");
        await _env.BeatAsync(request);
        await JobsPoll.UntilAsync(() => Task.FromResult(late.GetMeasurementSnapshot().Sum(m => m.Value) == 3), "the three late messages to be handled");

        var status = await JobsTestEnvironment.StatusAsync(user, location);
        Assert.Equal("succeeded", status.GetProperty("status").GetString());
        Assert.Equal(1, status.GetProperty("result").GetProperty("n").GetInt32());
        Assert.Equal(1, finished.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    private static async Task<string> SubmitAsync(HttpClient client)
    {
        var response = await client.PostAsync("/api/test/mine", JsonContent.Create(new { from = "2025-01-01" }), TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return response.Headers.Location!.ToString();
    }
}
