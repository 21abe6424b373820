using Portico.Loyalty.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddLoyaltyServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapLoyaltyGrpc();
app.MapLoyaltyAdmin();

app.Run();

public partial class Program;
