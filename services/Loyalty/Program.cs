using Portico.Loyalty.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddServiceOpenApi();
builder.AddLoyaltyServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapLoyaltyGrpc();
app.MapLoyaltyAdmin();

app.Run();

public partial class Program;
