using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Portico.Data;

namespace Portico.Loyalty.Apis;

/// <summary>
/// What a fault inside a Loyalty call becomes: a busy or unreachable database is UNAVAILABLE with a
/// <c>google.rpc.RetryInfo</c> (the gateway answers 503 and the caller may try again), anything else INTERNAL with a
/// generic message. The exception is logged; its text never reaches the caller. Statuses the service chose pass as
/// they are.
/// </summary>
internal sealed partial class LoyaltyErrorInterceptor(ILogger<LoyaltyErrorInterceptor> logger) : Interceptor
{
    /// <summary>How long a caller should wait before trying again while the database is busy.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (RpcException)
        {
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled."));
        }
        catch (Exception e) when (DatabaseFaults.IsBusyOrUnavailable(e))
        {
            Log.Unavailable(logger, e, context.Method);
            throw new Google.Rpc.Status
            {
                Code = (int)Code.Unavailable,
                Message = "The points database is busy or unavailable; nothing was changed. Try again shortly.",
                Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(RetryDelay) }) },
            }.ToRpcException();
        }
        catch (Exception e)
        {
            Log.Failed(logger, e, context.Method);
            throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, "Loyalty could not complete the call; the fault was logged."));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "{Method} failed because the database is busy or unavailable; answered UNAVAILABLE")]
        public static partial void Unavailable(ILogger logger, Exception exception, string method);

        [LoggerMessage(2, LogLevel.Error, "{Method} failed; answered INTERNAL")]
        public static partial void Failed(ILogger logger, Exception exception, string method);
    }
}
