using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Weather.Tests;

/// <summary>The artificial upstream delay (<c>Weather:Delay</c>).</summary>
public sealed class WeatherDelayTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(200);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetWeather_DelayConfigured_AnswersNoSoonerThanTheDelay()
    {
        await using var app = new WeatherApp(delay: "00:00:00.200");
        using var client = app.CreateHttpClient();
        using (var warmUp = await client.GetAsync("health/live", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        // Measured on Environment.TickCount64, the clock .NET schedules timers on: a Stopwatch can see a
        // timer fire a few milliseconds early, because that clock is coarser. Only a lower bound is asserted.
        var start = Environment.TickCount64;
        using var response = await client.GetAsync("api/weather?city=Seoul", Ct);
        var elapsed = TimeSpan.FromMilliseconds(Environment.TickCount64 - start);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(elapsed >= Delay, $"answered after {elapsed.TotalMilliseconds} ms, before the {Delay.TotalMilliseconds} ms delay");
    }

    [Fact]
    public async Task GetWeather_DelayConfigured_AnswersOnlyOnceTheClockHasMovedOnByTheDelay()
    {
        var time = new RecordingTimeProvider(new FakeTimeProvider(new DateTimeOffset(2025, 5, 5, 0, 0, 0, TimeSpan.Zero)));
        await using var app = new WeatherApp(delay: "00:00:00.200", timeProvider: time);
        using var client = app.CreateHttpClient();

        var request = client.GetAsync("api/weather?city=Seoul", Ct);
        await time.WaitForTimerAsync(Delay, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        time.Clock.Advance(Delay - TimeSpan.FromMilliseconds(1));
        await Task.WhenAny(request, Task.Delay(TimeSpan.FromMilliseconds(100), Ct));
        Assert.False(request.IsCompleted, "answered before the delay had passed");

        time.Clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await request.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GetWeather_ClientGoesAwayDuringDelay_StopsWaiting()
    {
        var longDelay = TimeSpan.FromSeconds(10);
        var time = new RecordingTimeProvider(new FakeTimeProvider(new DateTimeOffset(2025, 5, 5, 0, 0, 0, TimeSpan.Zero)));
        await using var app = new WeatherApp(delay: "00:00:10", timeProvider: time);
        using var client = app.CreateHttpClient();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var request = client.GetAsync("api/weather?city=Seoul", abort.Token);
        var timer = await time.WaitForTimerAsync(longDelay, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.False(timer.Disposed.IsCompleted);

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        // The fake clock never moved: the wait can only have ended because the request was aborted.
        await timer.Disposed.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }
}
