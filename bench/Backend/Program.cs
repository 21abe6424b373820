using System.Security.Cryptography;
using System.Text;

// A tiny upstream for the load benchmarks. Listens on every --urls address (run.sh gives it two ports so the
// proxies have a two-destination cluster to balance). Answers are built once; no logging on the hot path.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    // Idle upstream connections go after 5 s: after the many-connections scenario each proxy's pool would
    // otherwise hold thousands open, and the next proxy's would not fit under the descriptor limit.
    kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(5);
});

var app = builder.Build();

var hello = Encoding.UTF8.GetBytes("""{"message":"Hello from the Portico bench backend","service":"backend","version":1,"ok":true}""");
var kb = BuildKilobytes(4096);

app.MapGet("/hello", context => WriteJsonAsync(context, hello));
// The same answer under the paths of bench/run.sh's feature routes (token required, no resilience policy,
// cached), so each feature is measured against plain /hello on identical upstream work.
app.MapGet("/auth/hello", context => WriteJsonAsync(context, hello));
app.MapGet("/nores/hello", context => WriteJsonAsync(context, hello));
// The origin decides (RFC 9111): freshness, a validator, and a variant per Accept-Encoding, as a real API answers.
app.MapGet("/cached/hello", CacheableHello);
// The every-feature route: cacheable too, so the gateway's cache looks up, misses (new query each time) and stores.
app.MapGet("/full/hello", CacheableHello);

Task CacheableHello(HttpContext context)
{
    context.Response.Headers.CacheControl = "public, max-age=60";
    context.Response.Headers.ETag = "\"hello-v1\"";
    context.Response.Headers.Vary = "Accept-Encoding";
    return WriteJsonAsync(context, hello);
}

// A stand-in identity for the authenticated scenario: one ES256 key, its JWKS, and a token for it.
var signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var jwks = BuildJwks(signingKey);
app.MapGet("/bench/jwks", context => WriteJsonAsync(context, jwks));
app.MapGet("/bench/token", context =>
{
    context.Response.ContentType = "text/plain";
    // Within the gateway's one-hour maximum (Portico:Jwt:MaxAccessTokenLifetime); a full run takes under half an hour.
    return context.Response.WriteAsync(CreateToken(signingKey, TimeSpan.FromMinutes(55)));
});
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

static byte[] BuildJwks(ECDsa key)
{
    var p = key.ExportParameters(includePrivateParameters: false);
    return Encoding.UTF8.GetBytes(
        $$"""{"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"bench","x":"{{Base64Url(p.Q.X!)}}","y":"{{Base64Url(p.Q.Y!)}}"}]}""");
}

// Claims as Identity issues them (issuer, audience, lifetime, subject, role); the signature is IEEE P1363 r||s.
static string CreateToken(ECDsa key, TimeSpan lifetime)
{
    var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    var header = Base64Url("""{"alg":"ES256","typ":"at+jwt","kid":"bench"}"""u8.ToArray());
    var payload = Base64Url(Encoding.UTF8.GetBytes(
        $$"""{"iss":"portico-identity","aud":"portico","sub":"bench-user","email":"bench@example.test","name":"Bench","role":"user","iat":{{now}},"nbf":{{now}},"exp":{{now + (long)lifetime.TotalSeconds}}}"""));
    var signature = key.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256);
    return header + "." + payload + "." + Base64Url(signature);
}

static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
