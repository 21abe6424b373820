using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Caching;

namespace Portico.Gateway.Tests.Caching;

/// <summary>One test per rule of <see cref="CacheabilityRules"/> and <see cref="CacheDirectives"/>, named by its RFC section.</summary>
public sealed class CacheabilityRulesTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-01-01T12:00:00Z", CultureInfo.InvariantCulture);
    private static readonly CachePolicy Standard = new();
    private static readonly CachePolicy Override = new() { Ttl = TimeSpan.FromMinutes(1) };

    private static HeaderDictionary Headers(params (string Name, string Value)[] fields)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in fields)
        {
            headers.Append(name, value);
        }
        return headers;
    }

    private static string Http(DateTimeOffset at) => HeaderUtilities.FormatDate(at);

    private static StoragePlan? Plan(HeaderDictionary headers, int status = 200, CachePolicy? policy = null, bool authorization = false) =>
        CacheabilityRules.Plan(status, headers, policy ?? Standard, authorization, Now, Now);

    [Fact]
    public void S5_2_2_5_NoStore_IsNeverStored() => Assert.Null(Plan(Headers(("Cache-Control", "no-store, max-age=60"))));

    [Fact]
    public void S5_2_2_7_Private_IsNotStoredInAPublicEntry_ButIsInAPerUserOne()
    {
        Assert.Null(Plan(Headers(("Cache-Control", "private, max-age=60"))));
        Assert.NotNull(Plan(Headers(("Cache-Control", "private, max-age=60")), policy: new CachePolicy { Scope = CacheScope.Private }));
    }

    [Theory]
    [InlineData("max-age=60", false)]
    [InlineData("public, max-age=60", true)]
    [InlineData("s-maxage=60", true)]
    [InlineData("max-age=60, must-revalidate", true)]
    public void S3_5_RequestWithAuthorization_IsStoredOnlyUnderPublic_SMaxAge_OrMustRevalidate(string cacheControl, bool stored)
    {
        Assert.Equal(stored, Plan(Headers(("Cache-Control", cacheControl)), authorization: true) is not null);
        Assert.Equal(stored, Plan(Headers(("Cache-Control", cacheControl)), policy: Override, authorization: true) is not null);
    }

    [Fact]
    public void S4_1_VaryStar_IsNeverStored_AndNamesAreReadCaseInsensitively()
    {
        Assert.Null(Plan(Headers(("Cache-Control", "max-age=60"), ("Vary", "Accept, *"))));
        Assert.Equal(["accept-encoding", "x-tenant"], CacheabilityRules.VaryNames(Headers(("Vary", "Accept-Encoding"), ("Vary", " X-Tenant ,accept-encoding")))!);
    }

    [Fact]
    public void SetCookie_IsNeverStored_InEitherMode()
    {
        Assert.Null(Plan(Headers(("Cache-Control", "public, max-age=60"), ("Set-Cookie", "a=b"))));
        Assert.Null(Plan(Headers(("Set-Cookie", "a=b")), policy: Override));
    }

    [Fact]
    public void S4_2_1_NoExplicitOrHeuristicFreshness_IsNotStored_InStandardMode_ButIsInOverrideMode()
    {
        Assert.Null(Plan(Headers()));
        Assert.Equal(TimeSpan.FromMinutes(1), Plan(Headers(), policy: Override)!.Value.FreshFor);
    }

    [Fact]
    public void S5_2_2_1_MaxAge_IsTheLifetime() => Assert.Equal(TimeSpan.FromSeconds(60), Plan(Headers(("Cache-Control", "max-age=60")))!.Value.FreshFor);

    [Fact]
    public void S5_2_2_10_SMaxAge_WinsOverMaxAge() =>
        Assert.Equal(TimeSpan.FromSeconds(5), Plan(Headers(("Cache-Control", "max-age=600, s-maxage=5")))!.Value.FreshFor);

    [Fact]
    public void S5_3_Expires_IsTheLifetimeFromDate_PastOrInvalidIsStale()
    {
        Assert.Equal(TimeSpan.FromSeconds(90), Plan(Headers(("Date", Http(Now)), ("Expires", Http(Now.AddSeconds(90)))))!.Value.FreshFor);
        Assert.Null(Plan(Headers(("Date", Http(Now)), ("Expires", Http(Now.AddSeconds(-90))))));
        Assert.Null(Plan(Headers(("Expires", "0"))));
        Assert.Equal(TimeSpan.Zero, Plan(Headers(("Expires", "0"), ("ETag", "\"a\"")))!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromSeconds(10), Plan(Headers(("Cache-Control", "max-age=10"), ("Expires", Http(Now.AddHours(1)))))!.Value.FreshFor);
    }

    [Theory]
    [InlineData("max-age=-1")]
    [InlineData("max-age=\"60\"")]
    [InlineData("max-age=60, max-age=120")]
    [InlineData("max-age=6x")]
    public void S1_2_2_And_S4_2_1_InvalidOrRepeatedMaxAge_IsStale_NotThePolicyTtl(string cacheControl)
    {
        Assert.Null(Plan(Headers(("Cache-Control", cacheControl))));
        Assert.Equal(TimeSpan.Zero, Plan(Headers(("Cache-Control", cacheControl), ("ETag", "\"v\"")))!.Value.FreshFor);
    }

    [Fact]
    public void S1_2_2_HugeDeltaSeconds_IsTakenAs2To31() =>
        Assert.Equal(TimeSpan.FromSeconds(1L << 31), CacheDirectives.DeltaSeconds("99999999999999999999999"));

    [Fact]
    public void S4_2_3_AgeFromTheOrigin_And_ApparentAgeFromDate_CountAgainstFreshness()
    {
        Assert.Null(Plan(Headers(("Cache-Control", "max-age=3600"), ("Age", "7200"))));
        var aged = Plan(Headers(("Cache-Control", "max-age=3600"), ("Age", "600")))!.Value;
        Assert.Equal((TimeSpan.FromSeconds(3000), TimeSpan.FromSeconds(600)), (aged.FreshFor, aged.InitialAge));
        var dated = Plan(Headers(("Cache-Control", "max-age=3600"), ("Date", Http(Now.AddSeconds(-100)))))!.Value;
        Assert.Equal(TimeSpan.FromSeconds(100), dated.InitialAge);
        // corrected_age_value adds the response delay to Age.
        Assert.Equal(TimeSpan.FromSeconds(15), CacheabilityRules.InitialAge(Headers(("Age", "10")), Now.AddSeconds(-5), Now));
    }

    [Fact]
    public void S4_2_2_Heuristic_IsTenPercentSinceLastModified_Capped_AndOnlyForItsStatuses()
    {
        var lastModified = ("Last-Modified", Http(Now.AddHours(-10)));
        Assert.Equal(TimeSpan.FromHours(1), Plan(Headers(("Date", Http(Now)), lastModified))!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromMinutes(5), Plan(Headers(("Date", Http(Now)), lastModified),
            policy: new CachePolicy { HeuristicFreshnessLimit = TimeSpan.FromMinutes(5) })!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromHours(1), Plan(Headers(("Date", Http(Now)), lastModified), status: 404)!.Value.FreshFor);
        Assert.Null(Plan(Headers(("Date", Http(Now)), lastModified), status: 201));
        Assert.Null(Plan(Headers(("Date", Http(Now)), lastModified), status: 500));
    }

    [Theory]
    [InlineData(201)]
    [InlineData(302)]
    [InlineData(500)]
    [InlineData(599)]
    public void S3_ExplicitFreshness_MakesAnyFinalStatusStorable(int status) =>
        Assert.Equal(TimeSpan.FromSeconds(60), Plan(Headers(("Cache-Control", "max-age=60")), status)!.Value.FreshFor);

    [Theory]
    [InlineData(206)]
    [InlineData(304)]
    public void S3_PartialAndNotModified_AreNotStoredAsAnswers(int status) => Assert.Null(Plan(Headers(("Cache-Control", "max-age=60")), status));

    [Theory]
    [InlineData("max-age=1, must-revalidate")]
    [InlineData("max-age=1, proxy-revalidate")]
    [InlineData("s-maxage=1")]
    [InlineData("no-cache, max-age=1")]
    public void S4_2_4_TheseDirectives_ForbidServingStale_WhateverThePolicySays(string cacheControl)
    {
        var plan = Plan(Headers(("Cache-Control", cacheControl + ", stale-while-revalidate=60, stale-if-error=60"), ("ETag", "\"v\"")),
            policy: new CachePolicy { StaleWhileRevalidate = TimeSpan.FromMinutes(1), StaleIfError = TimeSpan.FromMinutes(1) })!.Value;
        Assert.Equal((TimeSpan.Zero, TimeSpan.Zero), (plan.StaleWhileRevalidate, plan.StaleIfError));
    }

    [Fact]
    public void Rfc5861_TheOriginsStaleWindows_AreHonoured_ThePolicysAreTheDefault()
    {
        var origin = Plan(Headers(("Cache-Control", "max-age=1, stale-while-revalidate=30, stale-if-error=300")),
            policy: new CachePolicy { StaleWhileRevalidate = TimeSpan.FromSeconds(5) })!.Value;
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(300)), (origin.StaleWhileRevalidate, origin.StaleIfError));
        var policy = Plan(Headers(("Cache-Control", "max-age=1")), policy: new CachePolicy { StaleWhileRevalidate = TimeSpan.FromSeconds(5) })!.Value;
        Assert.Equal(TimeSpan.FromSeconds(5), policy.StaleWhileRevalidate);
    }

    [Fact]
    public void S5_2_2_4_NoCache_IsStoredForRevalidation_NeverFresh()
    {
        Assert.Equal(TimeSpan.Zero, Plan(Headers(("Cache-Control", "no-cache, max-age=60"), ("ETag", "\"v\"")))!.Value.FreshFor);
        Assert.Null(Plan(Headers(("Cache-Control", "no-cache")), policy: Override));
    }

    [Fact]
    public void Rfc9213_PorticoCacheControl_ThenCdnCacheControl_ThenCacheControl()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), Plan(Headers(("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=30")))!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromSeconds(7), Plan(Headers(("Cache-Control", "max-age=1"), ("CDN-Cache-Control", "max-age=30"),
            ("Portico-Cache-Control", "max-age=7")))!.Value.FreshFor);
        Assert.Null(Plan(Headers(("Cache-Control", "max-age=60"), ("Portico-Cache-Control", "no-store"))));
        // A targeted field replaces Expires too; an unreadable one is ignored.
        Assert.Null(Plan(Headers(("CDN-Cache-Control", "public"), ("Expires", Http(Now.AddHours(1))))));
        Assert.Equal(TimeSpan.FromSeconds(60), Plan(Headers(("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "max-age=\"")))!.Value.FreshFor);
    }

    [Fact]
    public void OverrideMode_TtlIsCappedByMaxAge_NeverLengthened_AndInvalidMaxAgeKeepsTheTtl()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), Plan(Headers(("Cache-Control", "max-age=10")), policy: Override)!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromMinutes(1), Plan(Headers(("Cache-Control", "max-age=600")), policy: Override)!.Value.FreshFor);
        Assert.Equal(TimeSpan.FromMinutes(1), Plan(Headers(("Cache-Control", "max-age=-1")), policy: Override)!.Value.FreshFor);
        Assert.Null(Plan(Headers(("Cache-Control", "no-store")), policy: Override));
    }

    private static CacheEntry Entry(int status = 200, params (string Name, string Value)[] headers) => new()
    {
        Status = status, Headers = [.. headers.Select(h => new KeyValuePair<string, string[]>(h.Name, [h.Value]))], Body = "0123456789"u8.ToArray(),
        RouteId = "r", Tags = [], StoredAt = Now, FreshUntil = Now.AddMinutes(1), StaleWhileRevalidateUntil = Now, StaleIfErrorUntil = Now,
    };

    private static HttpRequest Request(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }
        return context.Request;
    }

    [Fact]
    public void S4_3_2_IfNoneMatch_WeakComparison_AndStar_AnswerNotModified()
    {
        var entry = Entry(200, ("ETag", "W/\"v1\""));
        Assert.True(CacheabilityRules.IsNotModified(Request(("If-None-Match", "\"x\", \"v1\"")), entry));
        Assert.True(CacheabilityRules.IsNotModified(Request(("If-None-Match", "*")), entry));
        Assert.False(CacheabilityRules.IsNotModified(Request(("If-None-Match", "\"v2\"")), entry));
        Assert.False(CacheabilityRules.IsNotModified(Request(("If-None-Match", "*")), Entry(404, ("ETag", "\"v1\""))));
    }

    [Fact]
    public void S4_3_2_IfModifiedSince_AgainstLastModified_OnlyWithoutIfNoneMatch()
    {
        var entry = Entry(200, ("Last-Modified", Http(Now.AddHours(-1))), ("ETag", "\"v1\""));
        Assert.True(CacheabilityRules.IsNotModified(Request(("If-Modified-Since", Http(Now))), entry));
        Assert.False(CacheabilityRules.IsNotModified(Request(("If-Modified-Since", Http(Now.AddHours(-2)))), entry));
        Assert.False(CacheabilityRules.IsNotModified(Request(("If-Modified-Since", Http(Now)), ("If-None-Match", "\"v2\"")), entry));
    }

    [Fact]
    public void S4_3_4_NotModified_UpdatesStoredFields_ButNotTheFraming()
    {
        IHeaderDictionary merged = CacheabilityRules.Merge([new("ETag", ["\"v1\""]), new("Content-Length", ["10"]), new("X-A", ["old"])],
            Headers(("X-A", "new"), ("Content-Length", "0"), ("Cache-Control", "max-age=5")));
        Assert.Equal(("new", "10", "max-age=5"), (merged["X-A"].ToString(), merged.ContentLength?.ToString(CultureInfo.InvariantCulture), merged.CacheControl.ToString()));
    }

    [Fact]
    public void Rfc9110_S14_ByteRanges_FromTheStoredBody()
    {
        var entry = Entry(200, ("ETag", "\"v1\""));
        Assert.Equal((0L, 2L, true), CacheabilityRules.Range(Request(("Range", "bytes=0-1")), entry));
        Assert.Equal((7L, 3L, true), CacheabilityRules.Range(Request(("Range", "bytes=-3")), entry));
        Assert.Equal((5L, 5L, true), CacheabilityRules.Range(Request(("Range", "bytes=5-")), entry));
        Assert.Equal((0L, 0L, false), CacheabilityRules.Range(Request(("Range", "bytes=20-30")), entry));
        Assert.Null(CacheabilityRules.Range(Request(("Range", "bytes=0-1"), ("If-Range", "\"v2\"")), entry));
        Assert.Null(CacheabilityRules.Range(Request(("Range", "bytes=0-1, 3-4")), entry));
    }

    [Fact]
    public void S4_1_Variants_AreNormalised_ForWhitespaceListsAndCase_AndAbsentMatchesOnlyAbsent()
    {
        string[] names = ["accept-encoding"];
        Assert.Equal(CacheKey.Variant(names, Headers(("Accept-Encoding", "gzip, br"))), CacheKey.Variant(names, Headers(("Accept-Encoding", "GZIP,br"))));
        Assert.Equal(CacheKey.Variant(names, Headers(("Accept-Encoding", "gzip"), ("Accept-Encoding", "br"))), CacheKey.Variant(names, Headers(("Accept-Encoding", "gzip, br"))));
        Assert.NotEqual(CacheKey.Variant(names, Headers(("Accept-Encoding", "gzip"))), CacheKey.Variant(names, Headers(("Accept-Encoding", "br"))));
        Assert.NotEqual(CacheKey.Variant(names, Headers()), CacheKey.Variant(names, Headers(("Accept-Encoding", "identity"))));
    }
}
