// The one string table of the widget, the console and the admin (en, zh-CN).
//
// This file is an ES module for the console and admin, and is inlined into
// widget.js: `export` may appear only at the start of a line.

export const LANGS = ['en', 'zh-CN'];

export const MESSAGES = {
  en: {
    // Widget
    'w.open': 'Open chat',
    'w.close': 'Close chat',
    'w.dialog': 'Chat with {name}',
    'w.defaultName': 'Support',
    'w.status.connecting': 'Connecting…',
    'w.status.reconnecting': 'Reconnecting…',
    'w.status.bot': 'AI assistant · replies instantly',
    'w.status.queued': 'Waiting for a teammate',
    'w.status.assigned': '{name} · Support team',
    'w.status.pending': 'We’re away — leave us a message',
    'w.status.resolved': 'Conversation resolved',
    'w.queue': 'You’re #{pos} in the queue, about {min} min',
    'w.queueNoEta': 'You’re #{pos} in the queue',
    'w.queueWaiting': 'A teammate will be with you shortly.',
    'w.joined': '{name} joined the conversation',
    'w.handedBack': 'You’re chatting with our AI assistant again',
    'w.resolvedNote': 'This conversation was marked as resolved. Write again any time.',
    'w.placeholder': 'Type your message…',
    'w.input': 'Message',
    'w.send': 'Send message',
    'w.stop': 'Stop generating',
    'w.human': 'Talk to a human',
    'w.humanRequested': 'Connecting you to a teammate…',
    'w.thinking': 'Thinking…',
    'w.typing': '{name} is typing…',
    'w.agent': 'Agent',
    'w.assistant': 'AI assistant',
    'w.you': 'You',
    'w.sources': 'Sources',
    'w.retry': 'Retry',
    'w.stopped': 'Stopped',
    'w.interrupted': 'The answer was interrupted.',
    'w.failed': 'Something went wrong while answering.',
    'w.blockedMsg': 'This reply was withheld.',
    'w.notSent': 'Not delivered.',
    'w.sending': 'Sending…',
    'w.offline.title': 'Leave us a message',
    'w.offline.body': 'Our team is offline right now. Leave your email and we’ll get back to you.',
    'w.offline.email': 'Email',
    'w.offline.message': 'Message',
    'w.offline.submit': 'Send message',
    'w.offline.sent': 'Thanks! We’ll reply to {email} as soon as we can.',
    'w.offline.invalid': 'Please enter a valid email address and a message.',
    'w.err.connect': 'Can’t reach the chat server. Retrying…',
    'w.err.rate': 'You’re sending messages too quickly. Please wait {s} s.',
    'w.err.rateNoTime': 'You’re sending messages too quickly. Please wait a moment.',
    'w.err.blocked': 'Your message wasn’t sent because it contains words we don’t allow.',
    'w.err.tooLarge': 'That message is too long.',
    'w.err.budget': 'The assistant is very busy right now. Please try again later.',
    'w.err.unavailable': 'The assistant is temporarily unavailable. Please try again in a moment.',
    'w.err.generic': 'Something went wrong. Please try again.',
    'w.powered': 'Powered by Switchboard',
    'w.newMessages': '{n} new messages',
    'w.dismiss': 'Dismiss',
  },
  'zh-CN': {
    'w.open': '打开在线客服',
    'w.close': '关闭对话窗口',
    'w.dialog': '与{name}对话',
    'w.defaultName': '在线客服',
    'w.status.connecting': '正在连接…',
    'w.status.reconnecting': '正在重新连接…',
    'w.status.bot': 'AI 助手 · 即时回复',
    'w.status.queued': '正在为您转接人工客服',
    'w.status.assigned': '{name} · 客服团队',
    'w.status.pending': '客服暂时不在线，请留言',
    'w.status.resolved': '对话已结束',
    'w.queue': '您当前排在第 {pos} 位，预计等待约 {min} 分钟',
    'w.queueNoEta': '您当前排在第 {pos} 位',
    'w.queueWaiting': '客服人员马上就来，请稍候。',
    'w.joined': '{name} 已加入对话',
    'w.handedBack': '已切换回 AI 助手为您服务',
    'w.resolvedNote': '本次对话已结束，如有需要可随时再次留言。',
    'w.placeholder': '请输入您的问题…',
    'w.input': '消息',
    'w.send': '发送',
    'w.stop': '停止生成',
    'w.human': '转人工客服',
    'w.humanRequested': '正在为您转接人工客服…',
    'w.thinking': '正在思考…',
    'w.typing': '{name} 正在输入…',
    'w.agent': '客服',
    'w.assistant': 'AI 助手',
    'w.you': '我',
    'w.sources': '参考资料',
    'w.retry': '重试',
    'w.stopped': '已停止',
    'w.interrupted': '回答意外中断。',
    'w.failed': '回答时出现问题。',
    'w.blockedMsg': '该回复已被拦截。',
    'w.notSent': '发送失败。',
    'w.sending': '发送中…',
    'w.offline.title': '给我们留言',
    'w.offline.body': '客服团队暂时不在线。请留下您的邮箱，我们会尽快回复您。',
    'w.offline.email': '邮箱',
    'w.offline.message': '留言内容',
    'w.offline.submit': '提交留言',
    'w.offline.sent': '感谢留言！我们会尽快回复到 {email}。',
    'w.offline.invalid': '请填写有效的邮箱地址和留言内容。',
    'w.err.connect': '无法连接到客服服务器，正在重试…',
    'w.err.rate': '发送太频繁了，请 {s} 秒后再试。',
    'w.err.rateNoTime': '发送太频繁了，请稍后再试。',
    'w.err.blocked': '您的消息包含不允许的词语，未能发送。',
    'w.err.tooLarge': '消息太长了。',
    'w.err.budget': 'AI 助手当前繁忙，请稍后再试。',
    'w.err.unavailable': 'AI 助手暂时无法回答，请稍后再试。',
    'w.err.generic': '出了点问题，请重试。',
    'w.powered': '由 Switchboard 提供技术支持',
    'w.newMessages': '{n} 条新消息',
    'w.dismiss': '关闭',
  },
};

// pickLang returns the supported language for a list of BCP 47 tags
// (navigator.languages): Chinese variants get zh-CN, everything else en.
export function pickLang(tags) {
  for (const tag of tags || []) {
    const t = String(tag || '').toLowerCase();
    if (t.startsWith('zh')) return 'zh-CN';
    if (t.startsWith('en')) return 'en';
  }
  return 'en';
}

// translator returns t(key, params) for lang, falling back to English and
// then to the key itself. {name} placeholders are replaced by params.name.
export function translator(lang) {
  const table = MESSAGES[lang] || MESSAGES.en;
  return function t(key, params) {
    let s = table[key];
    if (s === undefined) s = MESSAGES.en[key];
    if (s === undefined) return key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined ? m : String(params[k])));
    return s;
  };
}
