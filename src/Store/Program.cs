using Portico.Store;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddHostedService<GarnetService>();
builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("garnet");

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
