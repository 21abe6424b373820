using System.Text;

// A tiny upstream for the load benchmarks. Listens on every --urls address (run.sh gives it two ports so the
// proxies have a two-destination cluster to balance). Answers are built once; no logging on the hot path.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);

var app = builder.Build();

var hello = Encoding.UTF8.GetBytes("""{"message":"Hello from the Portico bench backend","service":"backend","version":1,"ok":true}""");
var kb = BuildKilobytes(4096);

app.MapGet("/hello", context => WriteJsonAsync(context, hello));
app.MapGet("/kb", context => WriteJsonAsync(context, kb));
app.MapGet("/slow", async context =>
{
    var ms = int.TryParse(context.Request.Query["ms"], out var value) ? Math.Clamp(value, 0, 10_000) : 50;
    await Task.Delay(ms, context.RequestAborted);
    await WriteJsonAsync(context, hello);
});
app.MapGet("/health/ready", static context =>
{
    context.Response.ContentType = "text/plain";
    return context.Response.WriteAsync("Healthy");
});

app.Run();

static Task WriteJsonAsync(HttpContext context, byte[] body)
{
    context.Response.ContentType = "application/json";
    context.Response.ContentLength = body.Length;
    return context.Response.Body.WriteAsync(body, 0, body.Length);
}

// A JSON array of small items padded to exactly `size` bytes.
static byte[] BuildKilobytes(int size)
{
    var json = new StringBuilder("{\"items\":[");
    for (var i = 0; json.Length < size - 64; i++)
    {
        json.Append(i == 0 ? "" : ",").Append("{\"id\":").Append(i).Append(",\"name\":\"item-").Append(i).Append("\"}");
    }
    json.Append("],\"pad\":\"");
    json.Append('x', size - json.Length - 2).Append("\"}");
    return Encoding.UTF8.GetBytes(json.ToString());
}
