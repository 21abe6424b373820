using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// The <c>grpc-timeout</c> header of gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md, "Timeout → grpc-timeout TimeoutValue
/// TimeoutUnit": at most 8 digits; H, M, S, m, u, n), as the gateway writes it for each attempt and reads what
/// Grpc.Net.Client wrote.
/// </summary>
public sealed class GrpcTimeoutTests
{
    [Theory]
    [InlineData("2H", 2 * 3600_000.0)]
    [InlineData("3M", 3 * 60_000.0)]
    [InlineData("8S", 8000.0)]
    [InlineData("250m", 250.0)]
    [InlineData("1500u", 1.5)]
    [InlineData("2000000n", 2.0)]
    [InlineData("99999999m", 99999999.0)]
    public void TryParse_EachUnit(string text, double milliseconds)
    {
        Assert.True(GrpcTimeout.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("S")]
    [InlineData("5s")]
    [InlineData("-5S")]
    [InlineData("123456789m")] // nine digits
    [InlineData("1.5S")]
    public void TryParse_RefusesWhatTheGrammarDoesNotAllow(string text) => Assert.False(GrpcTimeout.TryParse(text, out _));

    [Fact]
    public void Format_IsMilliseconds_RoundedDown_SoTheServiceStopsNoLaterThanTheGateway() =>
        Assert.Equal("8499m", GrpcTimeout.Format(TimeSpan.FromMilliseconds(8499.9)));

    [Fact]
    public void Format_APassedDeadline_IsOneMillisecond_NeverZeroOrNegative()
    {
        Assert.Equal("1m", GrpcTimeout.Format(TimeSpan.Zero));
        Assert.Equal("1m", GrpcTimeout.Format(TimeSpan.FromSeconds(-3)));
    }

    [Fact]
    public void Format_BeyondEightDigitsOfMilliseconds_TakesACoarserUnit()
    {
        Assert.Equal("100000S", GrpcTimeout.Format(TimeSpan.FromSeconds(100_000)));
        Assert.Equal("99999999M", GrpcTimeout.Format(TimeSpan.FromMinutes(99_999_999)));
        Assert.True(GrpcTimeout.Format(TimeSpan.MaxValue) is { Length: <= 9 } text && text.EndsWith('H'));
    }
}
