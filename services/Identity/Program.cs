using Portico.Identity.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddServiceOpenApi();
builder.AddIdentityServices();

var app = builder.Build();

// First: the client address that login throttling counts comes from X-Forwarded-For only behind a trusted proxy.
// (Hardening headers come from ServiceDefaults, in front of everything.)
app.UseForwardedHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
// After the status-code pages, so that a rejected bearer token also gets a problem+json body.
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapIdentityApi();

app.Run();

public partial class Program;
