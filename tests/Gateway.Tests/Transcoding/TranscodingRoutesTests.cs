using System.Net;
using Portico.Gateway.Tests.Transcoding.Protos;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// Path templates of <c>google.api.http</c> rules (google/api/http.proto, "Path template syntax"), as route patterns, and
/// custom verbs (<c>Template = "/" Segments [ Verb ]</c>, <c>Verb = ":" LITERAL</c>) served end to end.
/// </summary>
public sealed class TranscodingRoutesTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/v1/things/{id}:archive", "/v1/things/{p0}:archive")]
    [InlineData("/v1/{shelf=shelves/*}:archive", "/v1/shelves/{p0}:archive")]
    [InlineData("/v1/things:batchGet", "/v1/things:batchGet")]
    [InlineData("/v1/*:undelete", "/v1/{p0}:undelete")]
    public void Pattern_CustomVerb_StaysOnTheLastSegment(string template, string expected)
    {
        var pattern = TranscodingRoutes.Pattern(template, GetThingRequest.Descriptor, out var variables, out var why);

        Assert.Equal(expected, pattern);
        Assert.Empty(why);
        Assert.All(variables, v => Assert.DoesNotContain(v.Parts, p => p.Contains(':', StringComparison.Ordinal)));
    }

    [Fact]
    public void Pattern_ColonInsideAnEarlierSegment_IsPartOfThatLiteral_NotAVerb()
    {
        Assert.Equal("/v1/a:b/things/{p0}", TranscodingRoutes.Pattern("/v1/a:b/things/{id}", GetThingRequest.Descriptor, out _, out _));
    }

    [Theory]
    [InlineData("/v1/{shelf=**}:archive")]
    [InlineData("/v1/things:")]
    [InlineData("/v1/things:{id}")]
    public void Pattern_VerbThatCannotBeServed_IsSkippedWithTheReason(string template)
    {
        var pattern = TranscodingRoutes.Pattern(template, GetThingRequest.Descriptor, out _, out var why);

        output.WriteLine(why);
        Assert.Null(pattern);
        Assert.Contains(template.TrimEnd(':'), why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomVerbRoute_IsMatched_AndItsVariableBoundWithoutTheVerb()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(DynamicTranscodingTests.Config(things.Address));

        var (status, body, _) = await DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Post, "/api/things/7:archive");
        Assert.Equal((HttpStatusCode.OK, """{"id":"7","name":"archived"}"""), (status, body));
        Assert.Equal(7, Assert.Single(things.Service.Archived).Id);

        // A verb on a literal segment (an additional binding of the same method).
        (status, body, _) = await DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Post, "/api/things:archiveAll");
        Assert.Equal((HttpStatusCode.OK, """{"name":"archived"}"""), (status, body));
    }

    [Theory]
    [InlineData("/api/things/7")]               // the plain path: GetThing's (GET only), not the verb's
    [InlineData("/api/things/7:unarchive")]     // another verb
    [InlineData("/api/things")]                 // the literal binding without its verb: ListThings' (GET only)
    public async Task PathWithoutTheVerb_DoesNotReachTheVerbsMethod(string path)
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(DynamicTranscodingTests.Config(things.Address));

        var (status, body, _) = await DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Post, path);

        output.WriteLine($"{(int)status} {body}");
        Assert.True(status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{path}: {status}");
        Assert.Empty(things.Service.Archived);
    }
}
