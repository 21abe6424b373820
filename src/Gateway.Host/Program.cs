var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddJwtAuthentication();
builder.AddPorticoGateway()
    .AddGrpcContracts(Portico.Contracts.Loyalty.V1.LoyaltyReflection.Descriptor);

var app = builder.Build();

app.UsePorticoGateway();
app.MapDefaultEndpoints();
app.MapPorticoGateway();

app.Run();
