var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddPorticoGateway();

var app = builder.Build();

app.UsePorticoGateway();
app.MapDefaultEndpoints();
app.MapPorticoGateway();

app.Run();
