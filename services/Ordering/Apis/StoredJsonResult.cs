using System.Text;

namespace Portico.Ordering.Apis;

/// <summary>A JSON body kept as text, written as is: the first answer to an idempotent request and its replays are the same bytes.</summary>
internal sealed class StoredJsonResult(int statusCode, string json, string? location) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = statusCode;
        if (location is not null)
        {
            httpContext.Response.Headers.Location = location;
        }
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        return httpContext.Response.WriteAsync(json, Encoding.UTF8, httpContext.RequestAborted);
    }
}
