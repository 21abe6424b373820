using Portico.Identity.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIdentityServices();

var app = builder.Build();

// First: the client address that login throttling counts comes from X-Forwarded-For only behind a trusted proxy.
app.UseForwardedHeaders();
app.UseIdentityHardeningHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
// After the status-code pages, so that a rejected bearer token also gets a problem+json body.
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapIdentityApi();

app.Run();

public partial class Program;
