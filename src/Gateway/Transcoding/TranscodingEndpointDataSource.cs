using System.Text;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// REST in front of gRPC: one endpoint per transcoded method, rebuilt with each accepted gateway file. The
/// request message is built from the JSON body (rule <c>body: "*"</c>), then the path variables and query
/// parameters, each checked against the message type; the reply goes back as JSON, a gRPC error as
/// problem+json with the matching HTTP status (and the service's field violations under <c>errors</c>).
/// Authorization is a route's: none means a signed-in user, <c>anonymous</c> opens it.
/// </summary>
internal sealed class TranscodingEndpointDataSource(GatewayConfigProvider config, GrpcCaller caller)
    : GatewayEndpointDataSource<TranscodingSettings>(config)
{
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>The deadline of a transcoded call (its <c>grpc-timeout</c>); the cluster's resilience policy may end it sooner.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    protected override IReadOnlyList<Endpoint> Build(TranscodingSettings settings) => [.. settings.Routes.Select(Build)];

    private RouteEndpoint Build(TranscodedRoute route)
    {
        var builder = new RouteEndpointBuilder(context => HandleAsync(context, route), RoutePatternFactory.Parse(route.Path), order: 0)
        {
            DisplayName = $"transcoded {route.Method.FullName}",
        };
        builder.Metadata.Add(new HttpMethodMetadata([route.HttpMethod]));
        AddAuthorization(builder, route.AuthorizationPolicy);
        return (RouteEndpoint)builder.Build();
    }

    private async Task HandleAsync(HttpContext context, TranscodedRoute route)
    {
        var input = route.Method.InputType;
        IMessage request;
        if (route.Body is not null)
        {
            if (await BoundedBody.ReadRequestAsync(context, MaxBodyBytes) is not { } body)
            {
                await GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Body too large", $"The body may have at most {MaxBodyBytes} bytes.");
                return;
            }
            var json = Encoding.UTF8.GetString(body);
            if (GrpcJson.TryParse(json.Length == 0 ? "{}" : json, input, out var error) is not { } parsed)
            {
                await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid body", "The JSON body is not valid: " + error);
                return;
            }
            request = parsed;
        }
        else
        {
            request = input.Parser.ParseFrom(ByteString.Empty);
        }

        // Path variables win over query parameters of the same name, and both over the body.
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (route.Body is null)
        {
            foreach (var (name, value) in context.Request.Query)
            {
                if (value.Count != 1)
                {
                    await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid query", $"Query parameter '{name}' must be given once.");
                    return;
                }
                values[name] = value[0] ?? "";
            }
        }
        foreach (var field in route.PathFields)
        {
            values[field] = context.GetRouteValue(field)?.ToString() ?? "";
        }
        if (values.Count > 0)
        {
            if (GrpcJson.FieldsFromText(input, values, out var error) is not { } text || GrpcJson.TryParse(text, input, out error) is not { } overlay)
            {
                await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid parameter", error!);
                return;
            }
            request.MergeFrom(overlay.ToByteString());
        }

        var authorization = context.Request.Headers.Authorization.Count > 0 ? context.Request.Headers.Authorization.ToString() : null;
        var reply = await caller.CallAsync(route.Cluster, route.Method, request, authorization, context.TraceIdentifier,
            RequestSafety.IsIdempotent(context.Request), CallTimeout, context.RequestAborted);
        if (reply.IsOk)
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(GrpcJson.Format(reply.Message!), context.RequestAborted);
            return;
        }
        await GatewayProblems.WriteAsync(context, reply.HttpStatus, "gRPC " + GrpcCaller.StatusName(reply.GrpcStatus), reply.Detail, reply.FieldErrors);
    }
}
