using Portico.Weather.Forecasts;

namespace Portico.Weather.Tests;

public sealed class StableHashTests
{
    [Theory]
    [InlineData("", 0xcbf29ce484222325)]
    [InlineData("a", 0xaf63dc4c8601ec8c)]
    [InlineData("foobar", 0x85944171f73967e8)]
    public void Fnv1a64_PublishedTestVectors_Match(string text, ulong expected) =>
        Assert.Equal(expected, StableHash.Fnv1a64(text));

    [Fact]
    public void Fnv1a64_KoreanText_HashesItsUtf8Bytes() =>
        Assert.Equal(0x2761d049a3924bf7UL, StableHash.Fnv1a64("서울")); // FNV-1a 64 of EC 84 9C EC 9A B8
}
