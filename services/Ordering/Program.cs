using Portico.Ordering.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddServiceOpenApi();
builder.AddOrderingServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
// After the status-code pages, so that a rejected bearer token also gets a problem+json body.
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapOrdersApi();
app.MapServiceOrdersApi();

app.Run();

public partial class Program;
