using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Messaging;
using Portico.Messaging.RabbitMQ;
using Portico.Messaging.Redis;
using Portico.Messaging.Transport;

namespace Microsoft.Extensions.Hosting;

public static class MessagingServiceCollectionExtensions
{
    /// <summary>Name of the connection string that selects the broker (<c>ConnectionStrings:broker</c>).</summary>
    public const string BrokerConnectionName = "broker";

    /// <summary>The Redis-protocol store used when no broker is named (<c>ConnectionStrings:store</c>).</summary>
    public const string StoreConnectionName = "store";

    /// <summary>
    /// Registers <see cref="IMessageBus"/>, the consumers of the handlers added to the returned builder, and the
    /// transport chosen by configuration: <c>ConnectionStrings:broker</c> with an <c>amqp://</c> URI selects RabbitMQ;
    /// otherwise the Redis-protocol store (<c>ConnectionStrings:broker</c>, else <c>ConnectionStrings:store</c>).
    /// <see cref="MessagingOptions"/> are validated at start-up with every error listed.
    /// </summary>
    public static MessagingBuilder AddPorticoMessaging(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(MessageTypeRegistry))?.ImplementationInstance as MessageTypeRegistry;
        if (existing is not null)
        {
            return new MessagingBuilder(services, existing, builder.Configuration);
        }

        var registry = new MessageTypeRegistry();
        services.AddSingleton(registry);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<MessagingOptions>().BindConfiguration(MessagingOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MessagingOptions>, MessagingOptionsValidator>());
        services.AddOptions<BrokerConnectionOptions>()
            .Configure<IConfiguration>((o, configuration) =>
            {
                o.Broker = configuration.GetConnectionString(BrokerConnectionName);
                o.Store = configuration.GetConnectionString(StoreConnectionName);
            });

        services.TryAddSingleton<IMessageTransport>(sp =>
        {
            var connection = sp.GetRequiredService<IOptions<BrokerConnectionOptions>>().Value;
            if (!connection.IsConfigured)
            {
                return new NoBrokerTransport();
            }
            return connection.IsRabbitMq
                ? ActivatorUtilities.CreateInstance<RabbitMqTransport>(sp, new Uri(connection.Broker!))
                : ActivatorUtilities.CreateInstance<RedisTransport>(sp, connection.RedisConnectionString!);
        });
        services.TryAddSingleton<IMessageBus, MessageBus>();
        services.TryAddSingleton<MessageDispatcher>();
        services.AddMetrics();
        services.TryAddSingleton<MessagingMetrics>();
        services.TryAddSingleton<MessageConsumerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MessageConsumerService>());
        services.AddHealthChecks().AddCheck<MessagingHealthCheck>("messaging", tags: ["ready"]);
        return new MessagingBuilder(services, registry, builder.Configuration);
    }
}

/// <summary>Adds message types and handlers to <see cref="IMessageBus"/>'s registry.</summary>
public sealed class MessagingBuilder
{
    private readonly MessageTypeRegistry _registry;
    private readonly IConfiguration _configuration;

    internal MessagingBuilder(IServiceCollection services, MessageTypeRegistry registry, IConfiguration configuration)
    {
        Services = services;
        _registry = registry;
        _configuration = configuration;
    }

    public IServiceCollection Services { get; }

    /// <summary>Makes <typeparamref name="TMessage"/> publishable and readable with its source-generated JSON.</summary>
    public MessagingBuilder AddMessage<TMessage>(JsonTypeInfo<TMessage> jsonTypeInfo) where TMessage : IIntegrationMessage
    {
        _registry.AddType(jsonTypeInfo);
        return this;
    }

    /// <summary>Handles the event <typeparamref name="TMessage"/> on this service's queue (<c>Messaging:Queue</c>, or <paramref name="queue"/>), subscribed to its topic.</summary>
    public MessagingBuilder AddEventHandler<TMessage, THandler>(JsonTypeInfo<TMessage> jsonTypeInfo, string? queue = null)
        where TMessage : IIntegrationMessage
        where THandler : class, IMessageHandler<TMessage>
    {
        _registry.AddType(jsonTypeInfo);
        var name = queue ?? _configuration[$"{MessagingOptions.SectionName}:{nameof(MessagingOptions.Queue)}"]
            ?? throw new InvalidOperationException($"An event handler needs a queue: set {MessagingOptions.SectionName}:{nameof(MessagingOptions.Queue)} or pass one.");
        _registry.AddHandler<TMessage, THandler>(name, subscribe: true);
        Services.TryAddScoped<THandler>();
        return this;
    }

    /// <summary>
    /// Runs an <see cref="Portico.Messaging.Outbox.OutboxRelay{TContext}"/> that publishes the outbox rows of
    /// <typeparamref name="TContext"/> (whose model calls <c>AddOutbox()</c>); settings from <c>Messaging:Outbox</c>.
    /// Inject <see cref="Portico.Messaging.Outbox.OutboxSignal"/> and notify it after a commit to publish at once.
    /// </summary>
    public MessagingBuilder AddOutboxRelay<TContext>() where TContext : Microsoft.EntityFrameworkCore.DbContext
    {
        Services.AddOptions<Portico.Messaging.Outbox.OutboxRelayOptions>().BindConfiguration(Portico.Messaging.Outbox.OutboxRelayOptions.SectionName).ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Portico.Messaging.Outbox.OutboxRelayOptions>, Portico.Messaging.Outbox.OutboxRelayOptionsValidator>());
        Services.TryAddSingleton<Portico.Messaging.Outbox.OutboxSignal>();
        Services.AddHostedService<Portico.Messaging.Outbox.OutboxRelay<TContext>>();
        return this;
    }

    /// <summary>Handles the command <typeparamref name="TMessage"/> sent to <paramref name="queue"/>.</summary>
    public MessagingBuilder AddCommandHandler<TMessage, THandler>(JsonTypeInfo<TMessage> jsonTypeInfo, string queue)
        where TMessage : IIntegrationMessage
        where THandler : class, IMessageHandler<TMessage>
    {
        _registry.AddType(jsonTypeInfo);
        _registry.AddHandler<TMessage, THandler>(queue, subscribe: false);
        Services.TryAddScoped<THandler>();
        return this;
    }
}
