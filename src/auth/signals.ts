import diagnosticsChannel from 'node:diagnostics_channel'

/**
 * Facts worth counting that are not worth an audit row. Node's diagnostics channels cost
 * nothing while nobody subscribes, and keep the domain free of any metrics library.
 */
export const smsThrottledChannel = diagnosticsChannel.channel('twofold:sms.throttled')
