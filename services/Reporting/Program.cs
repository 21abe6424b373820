using Portico.Reporting.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddServiceOpenApi();
builder.AddReportingServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
// After the status-code pages, so that a rejected bearer token also gets a problem+json body.
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapReportsApi();
app.MapDeadLetters().RequireAuthorization(ReportingPolicies.Admin);

app.Run();

public partial class Program;
