using Microsoft.Extensions.Time.Testing;
using Portico.Gateway.Resilience;

namespace Portico.Gateway.Tests.Resilience;

public sealed class RetryBudgetTests
{
    [Fact]
    public void TryRetry_AllowsMinimumPlusRatioOfRecentRequests_ThenRefuses()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var budget = new RetryBudget(new RetryPolicy { BudgetRatio = 0.1, BudgetMinRetries = 2, BudgetWindow = TimeSpan.FromSeconds(10) }, time);
        for (var i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        var granted = 0;
        while (budget.TryRetry() && granted < 1000)
        {
            granted++;
        }

        Assert.Equal(12, granted);
    }

    [Fact]
    public void TryRetry_RecoversOnceTheWindowHasPassed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var budget = new RetryBudget(new RetryPolicy { BudgetRatio = 0, BudgetMinRetries = 1, BudgetWindow = TimeSpan.FromSeconds(5) }, time);

        Assert.True(budget.TryRetry());
        Assert.False(budget.TryRetry());
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(budget.TryRetry());
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.True(budget.TryRetry());
    }
}
