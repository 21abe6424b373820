using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Portico.Gateway.Resilience;

namespace Portico.Gateway.Tests.Resilience;

public sealed class DestinationBreakerTests
{
    private static readonly CircuitBreakerPolicy Policy = new()
    {
        FailureRatio = 0.5,
        MinimumThroughput = 4,
        SamplingDuration = TimeSpan.FromSeconds(10),
        BreakDuration = TimeSpan.FromSeconds(5),
    };

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly System.Collections.Concurrent.ConcurrentQueue<CircuitState> _transitions = new();

    private DestinationBreaker Create() => new(Policy, _time, (state, _) => _transitions.Enqueue(state));

    /// <summary>Polly reports transitions from its own executor, a moment after they happened.</summary>
    private async Task AssertTransitionsAsync(params CircuitState[] expected)
    {
        for (var i = 0; i < 200 && _transitions.Count < expected.Length; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
        Assert.Equal(expected, _transitions);
    }

    private static void Attempt(DestinationBreaker breaker, AttemptResult result)
    {
        Assert.True(breaker.TryEnter(out var probe));
        breaker.Report(result, probe);
    }

    [Fact]
    public async Task OpensAtTheFailureRatio_OnlyOnceTheMinimumThroughputIsReached()
    {
        var breaker = Create();
        Attempt(breaker, AttemptResult.Failed);
        Attempt(breaker, AttemptResult.Succeeded);
        Attempt(breaker, AttemptResult.Failed);
        Assert.Equal(CircuitState.Closed, breaker.State); // 2 of 3 failed, under the minimum throughput

        Attempt(breaker, AttemptResult.Failed); // 3 of 4
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.Equal(_time.GetUtcNow() + Policy.BreakDuration, breaker.OpenUntil);
        Assert.False(breaker.TryEnter(out _));
        await AssertTransitionsAsync(CircuitState.Open);
    }

    [Fact]
    public async Task AfterTheBreak_OneProbeAtATime_FailureReopens_SuccessCloses()
    {
        var breaker = Create();
        for (var i = 0; i < 4; i++)
        {
            Attempt(breaker, AttemptResult.Failed);
        }
        await AssertTransitionsAsync(CircuitState.Open); // Polly reports it from its executor: let it land first
        _time.Advance(Policy.BreakDuration);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);

        Assert.True(breaker.TryEnter(out var probe));
        Assert.True(probe);
        Assert.False(breaker.TryEnter(out _)); // the probe is out
        breaker.Report(AttemptResult.Failed, probe);
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryEnter(out _));
        await AssertTransitionsAsync(CircuitState.Open, CircuitState.HalfOpen, CircuitState.Open);

        _time.Advance(Policy.BreakDuration);
        Assert.True(breaker.TryEnter(out probe));
        breaker.Report(AttemptResult.Succeeded, probe);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Null(breaker.OpenUntil);
        Assert.True(breaker.TryEnter(out probe));
        Assert.False(probe);
        await AssertTransitionsAsync(CircuitState.Open, CircuitState.HalfOpen, CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed);
    }

    [Fact]
    public void AnAttemptLetThroughWhileClosed_EndingAfterItOpened_IsNotTakenForTheProbe()
    {
        var breaker = Create();
        Assert.True(breaker.TryEnter(out var early));
        for (var i = 0; i < 4; i++)
        {
            Attempt(breaker, AttemptResult.Failed);
        }
        _time.Advance(Policy.BreakDuration);

        breaker.Report(AttemptResult.Succeeded, early);
        Assert.Equal(CircuitState.HalfOpen, breaker.State); // still waiting for a real probe

        Assert.True(breaker.TryEnter(out var probe));
        Assert.True(probe);
        breaker.Abandon(probe); // the probe's client left: the slot is free again
        Assert.True(breaker.TryEnter(out probe));
        Assert.True(probe);
    }
}
