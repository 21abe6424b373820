var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddJwtAuthentication();
builder.AddPorticoGateway();

var app = builder.Build();

app.UsePorticoGateway();
app.MapDefaultEndpoints();
app.MapPorticoGateway();

app.Run();
