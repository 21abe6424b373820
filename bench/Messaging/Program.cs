using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

// Publish N messages (64 in flight, each awaited until the broker confirms) and count until all N are handled and
// acknowledged, with 1 and 8 deliveries handled at once. Usage:
//   dotnet run -c Release --project bench/Messaging -- [messages] [amqp-uri] [redis-address]
// Without a Redis address the embedded Garnet is started; without an AMQP URI RabbitMQ is left out.
var messages = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
var amqp = args.Length > 1 && args[1].Length > 0 ? args[1] : Environment.GetEnvironmentVariable("PORTICO_TEST_RABBITMQ");
var redis = args.Length > 2 && args[2].Length > 0 ? args[2] : Environment.GetEnvironmentVariable("PORTICO_TEST_REDIS");

using var garnet = new Garnet.GarnetServer(["--bind", "127.0.0.1", "--port", "6391", "--memory", "256m"]);
garnet.Start();

Console.WriteLine($"{messages} messages of {JsonSerializer.Serialize(new BenchEvent(0, new string('x', 64)), BenchJson.Default.BenchEvent).Length} bytes, 64 publishes in flight, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
Console.WriteLine("| transport | concurrency | Portico msg/s | raw RabbitMQ.Client msg/s | ratio |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var concurrency in new[] { 1, 8 })
{
    if (amqp is not null)
    {
        var raw = await RawRabbitMq(amqp, messages, concurrency);
        var portico = await Portico(amqp, messages, concurrency);
        Console.WriteLine($"| RabbitMQ | {concurrency} | {portico:N0} | {raw:N0} | {portico / raw:F2}x |");
    }
    Console.WriteLine($"| Garnet (embedded) | {concurrency} | {await Portico("127.0.0.1:6391", messages, concurrency):N0} | | |");
    if (redis is not null)
    {
        Console.WriteLine($"| Redis 7 | {concurrency} | {await Portico(redis, messages, concurrency):N0} | | |");
    }
}

static async Task<double> Portico(string broker, int messages, int concurrency)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    var ns = "bench-" + Guid.NewGuid().ToString("N")[..8];
    builder.Configuration["ConnectionStrings:broker"] = broker;
    builder.Configuration["Messaging:Namespace"] = ns;
    builder.Configuration["Messaging:Queue"] = ns;
    builder.Configuration["Messaging:Concurrency"] = concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture);
    builder.Configuration["Messaging:PollInterval"] = "00:00:00.050";
    var counter = new Counter(messages);
    builder.Services.AddSingleton(counter);
    builder.AddPorticoMessaging().AddEventHandler<BenchEvent, CountingHandler>(BenchJson.Default.BenchEvent);
    using var host = builder.Build();
    await host.StartAsync();
    var bus = host.Services.GetRequiredService<IMessageBus>();
    // An event published before the consumer has bound its queue reaches nobody: warm up until one arrives.
    for (var i = 0; i < 60 && !counter.WarmedUp.Task.IsCompleted; i++)
    {
        await bus.PublishAsync(new BenchEvent(-1, "warm-up"));
        await Task.WhenAny(counter.WarmedUp.Task, Task.Delay(500));
    }
    await counter.WarmedUp.Task.WaitAsync(TimeSpan.FromSeconds(1));

    var clock = Stopwatch.StartNew();
    await PublishAll(messages, i => bus.PublishAsync(new BenchEvent(i, new string('x', 64))));
    await counter.Done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    var rate = messages / clock.Elapsed.TotalSeconds;
    await host.StopAsync();
    return rate;
}

static async Task<double> RawRabbitMq(string amqp, int messages, int concurrency)
{
    var factory = new ConnectionFactory { Uri = new Uri(amqp) };
    await using var connection = await factory.CreateConnectionAsync();
    await using var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    await using var consumerChannel = await connection.CreateChannelAsync(new CreateChannelOptions(false, false, consumerDispatchConcurrency: (ushort)concurrency));
    var queue = "bench-raw-" + Guid.NewGuid().ToString("N")[..8];
    await publisher.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
    await consumerChannel.BasicQosAsync(0, (ushort)concurrency, false);
    var counter = new Counter(messages);
    var consumer = new AsyncEventingBasicConsumer(consumerChannel);
    consumer.ReceivedAsync += async (_, delivery) =>
    {
        var message = JsonSerializer.Deserialize(delivery.Body.Span, BenchJson.Default.BenchEvent)!;
        counter.Handled(message.Number);
        await consumerChannel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
    };
    await consumerChannel.BasicConsumeAsync(queue, autoAck: false, consumer);
    var properties = new BasicProperties { Persistent = true, ContentType = "application/json" };
    await publisher.BasicPublishAsync(string.Empty, queue, false, properties, JsonSerializer.SerializeToUtf8Bytes(new BenchEvent(-1, "warm-up"), BenchJson.Default.BenchEvent));
    await counter.WarmedUp.Task.WaitAsync(TimeSpan.FromSeconds(30));

    var clock = Stopwatch.StartNew();
    await PublishAll(messages, async i =>
        await publisher.BasicPublishAsync(string.Empty, queue, false, properties, JsonSerializer.SerializeToUtf8Bytes(new BenchEvent(i, new string('x', 64)), BenchJson.Default.BenchEvent)));
    await counter.Done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    var rate = messages / clock.Elapsed.TotalSeconds;
    await publisher.QueueDeleteAsync(queue);
    return rate;
}

static async Task PublishAll(int messages, Func<int, Task> publish)
{
    using var inFlight = new SemaphoreSlim(64);
    var tasks = new List<Task>(messages);
    for (var i = 0; i < messages; i++)
    {
        await inFlight.WaitAsync();
        var number = i;
        tasks.Add(Task.Run(async () =>
        {
            try
            {
                await publish(number);
            }
            finally
            {
                inFlight.Release();
            }
        }));
    }
    await Task.WhenAll(tasks);
}

/// <summary>The benchmark's event: a number and a 64-byte payload.</summary>
internal sealed record BenchEvent(int Number, string Payload) : IIntegrationMessage
{
    public static string MessageType => "Bench.Event.v1";
}

[JsonSerializable(typeof(BenchEvent))]
internal sealed partial class BenchJson : JsonSerializerContext;

/// <summary>Counts handled messages; the warm-up message (-1) is counted apart.</summary>
internal sealed class Counter(int expected)
{
    private int _handled;

    public TaskCompletionSource WarmedUp { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Handled(int number)
    {
        if (number < 0)
        {
            WarmedUp.TrySetResult();
        }
        else if (Interlocked.Increment(ref _handled) == expected)
        {
            Done.TrySetResult();
        }
    }
}

internal sealed class CountingHandler(Counter counter) : IMessageHandler<BenchEvent>
{
    public Task HandleAsync(BenchEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        counter.Handled(message.Number);
        return Task.CompletedTask;
    }
}
