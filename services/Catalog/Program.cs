using Portico.Catalog.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddServiceOpenApi();
builder.AddCatalogServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
// After the status-code pages, so that a rejected bearer token also gets a problem+json body.
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapCatalogApi();
app.MapCatalogApiV2();
app.MapProductWrites();
app.MapDeadLetters().RequireAuthorization(CatalogPolicies.Admin);

app.Run();

public partial class Program;
