using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Portico.Gateway.Routing;

/// <summary>YARP answers upstream failures with a bare status; this gives them a problem+json body that says why.</summary>
internal static class ProxyErrorProblems
{
    public static Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var pending = next();
        // A cache hit completes synchronously and costs no async frame here.
        return pending.IsCompletedSuccessfully ? AnswerFailure(context) : AwaitThenAnswerAsync(pending, context);
    }

    private static async Task AwaitThenAnswerAsync(Task pending, HttpContext context)
    {
        await pending;
        await AnswerFailure(context);
    }

    private static Task AnswerFailure(HttpContext context)
    {
        if (context.Response.HasStarted || context.Features.Get<IForwarderErrorFeature>() is not { } error)
        {
            return Task.CompletedTask;
        }

        var cluster = context.GetReverseProxyFeature().Cluster.Config.ClusterId;
        var (title, detail) = error.Error switch
        {
            ForwarderError.NoAvailableDestinations => ("Service unavailable", $"No healthy destination in cluster '{cluster}'."),
            ForwarderError.RequestTimedOut => ("Upstream timeout", $"Cluster '{cluster}' did not answer in time." + RequestSafety.UnknownOutcome(context.Request)),
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => ("Request canceled", "The client canceled the request."),
            ForwarderError.RequestBodyClient => ("Bad request body", "The request body could not be read from the client."),
            _ when TransportErrors.IsConnectionRefused(error.Exception) => ("Bad gateway", $"Cluster '{cluster}' could not be reached ({error.Error})."),
            _ => ("Bad gateway", $"Cluster '{cluster}' could not be reached or answered badly ({error.Error})." + RequestSafety.UnknownOutcome(context.Request)),
        };
        var status = context.Response.StatusCode >= 400 ? context.Response.StatusCode : StatusCodes.Status502BadGateway;
        return context.RequestAborted.IsCancellationRequested ? Task.CompletedTask : GatewayProblems.WriteAsync(context, status, title, detail).AsTask();
    }
}
